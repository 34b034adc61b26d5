"""RQ jobs and the worker entry point. Jobs take row ids, never objects."""
