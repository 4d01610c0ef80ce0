"""Simulated circles of care for demos, tests and benchmarks."""
