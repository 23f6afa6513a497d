"""Push delivery: workers that claim due deliveries from PostgreSQL and hand them to adapters."""
