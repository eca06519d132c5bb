"""The training's Lightning callbacks, one per file: progress reporting and clean stops
(`progress_reporter`), the latest validation (`last_validation`), every validation metric
(`val_metrics`), throughput (`throughput`), exact resumption (`exact_resume`) and per-training random
generators (`rng_isolation`)."""
