"""The scheduler: APScheduler wiring, the leader lease, and the jobs it runs (flag scan, notices, reports)."""
