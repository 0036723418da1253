"""``/admin``: the administrator's pages (the scheduler, its jobs and the outbox)."""
