"""The command-line face of train-tune: compose, validate, resolve, submit, follow, report."""
