"""Task queue names, defined once. Config (`temporal.training_queue`, ...) may override them per run."""

from __future__ import annotations

TRAINING_QUEUE = "train-tune-training"
"""Activities that train (GPU/CPU heavy, long, heartbeating)."""

ORCHESTRATION_QUEUE = "train-tune-orchestration"
"""Workflows and the light activities: dataset snapshots, evaluation, prediction."""
