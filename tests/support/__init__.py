"""Helpers shared by tests and benchmarks: the analytic stand-in for training (`standin_training`)."""
