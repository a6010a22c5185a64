"""Workloads that exist only for tests, loaded through BATCHMARK_PLUGINS like any user plugin."""
