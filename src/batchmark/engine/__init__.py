"""The benchmark engine: plans, worker subprocesses, synchronized timing and statistics."""
