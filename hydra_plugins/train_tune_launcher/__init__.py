"""Hydra launcher `hydra/launcher=temporal`: a multirun becomes one CoordinatorWorkflow of child runs."""
