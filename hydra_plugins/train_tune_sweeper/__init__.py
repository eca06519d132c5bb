"""Hydra sweeper `hydra/sweeper=train_tune`: Optuna-style sweep overrides become one ladder sweep; plain comma
lists fan out as Hydra's BasicSweeper does."""
