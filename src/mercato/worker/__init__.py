"""Worker processes: the outbox dispatcher and the periodic-job scheduler."""
