"""The names the workflows (the sweep, `sweep_metrics`, the single run) call their activities by
(`workflow.execute_activity(NAME, ..., result_type=...)`), so that workflow code imports no activity module
(and none of torch behind it). Each is the name its `@activity.defn` function registers under;
tests/unit/test_schedulers_imports.py keeps them equal."""

TRAIN = "train"
SUGGEST = "suggest"
PRUNE_CHECKPOINTS = "prune_checkpoints"
ARCHIVE_SWEEP_RECORDS = "archive_sweep_records"
LOAD_ARCHIVED_TRIALS = "load_archived_trials"
EVALUATE = "evaluate"
PREDICT = "predict"
SNAPSHOT_DATASET = "snapshot_dataset"
COPY_CHECKPOINT = "copy_checkpoint"
