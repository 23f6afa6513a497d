"""The load benchmark of issue 8: `python -m bench.load --help`.

The hub under load (closed and open loop) from a generator process of its own, deliveries timed by a
webhook receiver process of its own, and the raw ceiling of the same PostgreSQL measured in the same run.
"""
