"""The training engine: Lightning fine-tuning of a sequence classifier, apart from its Temporal face.

Nothing here imports temporalio; `activities.train` adapts it to Temporal (heartbeats, cancellation,
error mapping). Import the modules themselves: this package imports nothing, so the stdlib-only
`checkpoint_files` stays cheap for the runner and the workflow sandbox.

- `checkpoint_files`: checkpoint and digest file names, which checkpoint a fit resumes from (stdlib only)
- `checkpoint_io`: Lightning `CheckpointIO` writing checksummed checkpoints atomically
- `data`: the snapshot's train/validation loaders and their padding
- `epoch_sampler`: the training data order, a function of the global step alone
- `schedule`: the learning-rate schedule (warmup, then constant, linear or cosine decay)
- `module`: the `LightningModule` (loss, metrics, optimiser, schedule)
- `rng`: each training's own random generators
- `callbacks/`: one Lightning callback per file
- `loss_reader`: each step's loss on the host without waiting for the device
- `loggers`: the Lightning loggers of a segment (CSV, TensorBoard, MLflow)
- `progress_bar`: the process-wide switch for Lightning's progress bar
- `fitting`: `fit`, which wires them into one `Trainer.fit`
"""
