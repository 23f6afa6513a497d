"""Legal clocks: the worker that sends reminders and, when a deadline passes, the hub's escalation."""
