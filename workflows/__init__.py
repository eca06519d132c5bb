"""Deterministic Temporal workflows and the dataclasses that cross a Temporal boundary."""
