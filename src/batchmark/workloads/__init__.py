"""Workload specs (framework-neutral) and their per-framework implementations."""
