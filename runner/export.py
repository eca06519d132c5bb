"""`train-tune export RUN_ID --out DIR` and `train-tune predict RUN_ID|DIR --text ... | --file ...`.

A run is found through Temporal (its workflow's result and first input; the dataset snapshot from the
input or from the `snapshot_dataset` activity in its history); a coordinator or ladder sweep stands for its
best job or trial. The torch work (`activities.export`) runs here, after the connection is closed, on this
machine's device. Predicting with an exported folder needs no server at all.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.export import checkpoint_labeller, export_model, folder_labeller
from activities.models import head_of
from runner.connect import temporal_connection
from runner.exit_codes import NotFound  # exit code 3: a run, model folder or text file that does not exist
from runner.sweep_results import with_archive
from workflows.coordinator import CoordinatorWorkflow
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import DatasetSnapshot, Prediction
from workflows.payloads.runs import CoordinatorStatus, TrainEvalInput, TrainEvalResult, leaderboard_metric
from workflows.payloads.specs import ModelSpec
from workflows.payloads.sweep import LadderSweepInput, LadderSweepResult
from workflows.search_params import apply_params
from workflows.train_eval import TrainEvalWorkflow

USAGE = """       train-tune export  RUN_ID --out DIR [KEY=VALUE ...]   the run's best checkpoint as a Hugging Face model folder
       train-tune predict RUN_ID|DIR (--text TEXT ... | --file texts.csv|.jsonl|.txt [--column text])
                                 [--out preds.csv|preds.jsonl] [--batch-size N] [KEY=VALUE ...]   label new texts"""

TEXT_SUFFIXES = (".csv", ".jsonl", ".txt")
OUT_SUFFIXES = (".csv", ".jsonl")


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """The options of `export` / `predict` (the run id or folder is the parser's `workflow_id`)."""
    if command == "export":
        parser.add_argument("--out", required=True, help="folder to write the model into (new or empty)")
        return
    parser.add_argument("--text", action="append", default=[], help="a text to label (repeatable)")
    parser.add_argument("--file", default=None, help="texts to label: .csv / .jsonl (--column) or .txt (a line each)")
    parser.add_argument("--column", default="text", help="column of --file holding the text (default: text)")
    parser.add_argument("--out", default=None, help="write predictions to .csv or .jsonl (default: print them)")
    parser.add_argument("--batch-size", type=int, default=32, help="texts per forward pass (default 32)")


@dataclass
class TrainedRun:
    """What labelling needs from a finished run: its model spec, snapshot and the checkpoint to load."""

    workflow_id: str
    model: ModelSpec
    snapshot: DatasetSnapshot
    checkpoint: str
    metrics: dict[str, float] = field(default_factory=dict)
    chosen_from: str = ""
    """The coordinator or sweep this run is the best job or trial of ('' for a run given directly)."""


async def find_run(temporal: dict[str, Any], run_root: str, workflow_id: str) -> TrainedRun:
    """Connect (the embedded server of `run_root`, or the cluster) and locate `workflow_id`'s best model."""
    if not temporal.get("address") and not (Path(run_root) / temporal["db_file"]).is_file():
        raise NotFound(f"no run '{workflow_id}': {run_root} has no run history ({temporal['db_file']}); "
                       f"pass run_root=... or temporal.address=... where it ran")
    async with temporal_connection(temporal, run_root) as connection:
        return await locate(connection.client, workflow_id)


async def locate(client: Client, workflow_id: str) -> TrainedRun:
    """The best checkpoint of a completed single run, coordinator (its best job) or sweep (its best trial)."""
    try:
        description = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise NotFound(f"no run '{workflow_id}' on {client.service_client.config.target_host}") from error
        raise
    if description.status != WorkflowExecutionStatus.COMPLETED:
        raise LookupError(f"{workflow_id} is {description.status.name if description.status else 'unknown'}, but "
                          f"only a completed run has a final model (`train-tune status {workflow_id}` follows it)")
    kind = description.workflow_type
    if kind == CoordinatorWorkflow.__name__:
        status = await client.get_workflow_handle(workflow_id, result_type=CoordinatorStatus).result()
        finished = [job for job in status.jobs if job.state == "completed" and leaderboard_metric(job.metrics) in job.metrics]
        if not finished:
            raise LookupError(f"{workflow_id} has no completed job to take a model from")
        best = max(finished, key=lambda job: (job.metrics[leaderboard_metric(job.metrics)], -job.index))
        run = await locate(client, best.workflow_id)
        run.chosen_from = f"best job {best.index} of {workflow_id}"
        return run
    if kind == LadderSweepWorkflow.__name__:
        return await best_trial(client, workflow_id)
    if kind != TrainEvalWorkflow.__name__:
        raise LookupError(f"{workflow_id} is a {kind}; export and predict take single runs, coordinators and sweeps")
    result = await client.get_workflow_handle(workflow_id, result_type=TrainEvalResult).result()
    history = await first_run_history(client, workflow_id)
    run_input = await started_input(client, history, TrainEvalInput)
    snapshot = run_input.snapshot or await made_snapshot(client, history, workflow_id)
    return TrainedRun(workflow_id, run_input.model, snapshot, result.best_checkpoint, dict(result.metrics))


async def best_trial(client: Client, workflow_id: str) -> TrainedRun:
    """The sweep's best trial: its parameters applied to the sweep's base run, its latest checkpoint."""
    result = with_archive(await client.get_workflow_handle(workflow_id, result_type=LadderSweepResult).result())
    trial = next((t for t in result.trials if t.number == result.best_trial), None)
    if trial is None or not trial.checkpoint:
        raise LookupError(f"sweep {workflow_id} has no trial with a checkpoint to take a model from")
    history = await first_run_history(client, workflow_id)
    sweep_input = await started_input(client, history, LadderSweepInput)
    run = apply_params(sweep_input.base, trial.params, sweep_input.models)  # the labels: any snapshot's
    snapshot = sweep_input.base.snapshot or await made_snapshot(client, history, workflow_id)
    metrics = {f"rung {trial.rung} {sweep_input.base.trainer.monitor}": trial.metrics[-1]} if trial.metrics else {}
    return TrainedRun(workflow_id, run.model, snapshot, trial.checkpoint, metrics,
                      chosen_from=f"best trial {trial.number} of {workflow_id}")


async def first_run_history(client: Client, workflow_id: str):
    """The history of the workflow's first run (a sweep that continued as new carries on in later runs)."""
    latest = await client.get_workflow_handle(workflow_id).fetch_history()
    first_run = latest.events[0].workflow_execution_started_event_attributes.first_execution_run_id
    return await client.get_workflow_handle(workflow_id, run_id=first_run or None).fetch_history()


async def started_input(client: Client, history, input_type: type) -> Any:
    payloads = history.events[0].workflow_execution_started_event_attributes.input.payloads
    (value,) = await client.data_converter.decode(payloads, [input_type])
    return value


async def made_snapshot(client: Client, history, workflow_id: str) -> DatasetSnapshot:
    """The result of the run's `snapshot_dataset` activity."""
    scheduled: dict[int, str] = {}
    for event in history.events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            scheduled[event.event_id] = event.activity_task_scheduled_event_attributes.activity_type.name
        elif event.HasField("activity_task_completed_event_attributes"):
            done = event.activity_task_completed_event_attributes
            if scheduled.get(done.scheduled_event_id) == "snapshot_dataset":
                (snapshot,) = await client.data_converter.decode(done.result.payloads, [DatasetSnapshot])
                return snapshot
    raise LookupError(f"{workflow_id} has no dataset snapshot in its history")


async def export_command(args, config, run_root) -> None:
    run = await find_run(config["temporal"], run_root, args.workflow_id)
    provenance = {"workflow_id": run.workflow_id, "chosen_from": run.chosen_from, "model": run.model.name,
                  "metrics": run.metrics}
    out = export_model(run.model, run.snapshot, run.checkpoint, Path(args.out), provenance)
    chosen = f" ({run.chosen_from})" if run.chosen_from else ""
    print(f"exported {run.workflow_id}{chosen} to {out}: labels {', '.join(run.snapshot.label_names)}; load it with "
          f"AutoModelFor{head_of(run.snapshot.task.name)}.from_pretrained('{out}')")


async def predict_command(args, config, run_root) -> None:
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size is {args.batch_size}, but must be >= 1")
    if args.out and Path(args.out).suffix.lower() not in OUT_SUFFIXES:
        raise ConfigError(f"--out is '{args.out}', but must end in {' or '.join(OUT_SUFFIXES)}")
    if args.out and Path(args.out).is_dir():
        raise ConfigError(f"--out is '{args.out}', but that is a folder: give a file path ending in "
                          f"{' or '.join(OUT_SUFFIXES)}")
    texts = read_texts(args)
    source = Path(args.workflow_id).expanduser()
    if source.is_dir():
        if not (source / "config.json").is_file():
            raise NotFound(f"'{source}' is a folder without config.json, not a model folder (`train-tune export` "
                           f"writes one)")
        labeller = folder_labeller(source)
    elif "/" in args.workflow_id or args.workflow_id.startswith((".", "~")):
        raise NotFound(f"no model folder '{args.workflow_id}'")
    else:
        run = await find_run(config["temporal"], run_root, args.workflow_id)
        labeller = checkpoint_labeller(run.model, run.snapshot, run.checkpoint)
    predictions = labeller.predict(texts, args.batch_size)
    if args.out:
        tagged = labeller.task.name == "token_classification"
        try:
            written = write_predictions(Path(args.out), predictions, entities=tagged)
        except OSError as error:  # e.g. a folder that may not be written to: one line, exit 2
            raise ConfigError(f"--out is '{args.out}', but it cannot be written: {error.strerror}") from error
        print(f"{len(predictions)} predictions written to {written}", file=sys.stderr)
        return
    for p in predictions:
        print(f"{p.label}\t{p.score:.4f}\t{' '.join(p.text.split())}")


def read_texts(args) -> list[str]:
    """The texts of `--text` and/or `--file` (.csv/.jsonl: `--column`; .txt: each non-blank line)."""
    if not args.text and not args.file:
        raise ConfigError("predict needs texts: --text TEXT (repeatable) or --file texts.csv|.jsonl|.txt")
    texts = list(args.text)
    if args.file:
        texts += read_text_file(Path(args.file), args.column)
    if not texts:
        raise ConfigError(f"--file is '{args.file}', but it has no texts")
    return texts


def read_text_file(path: Path, column: str) -> list[str]:
    suffix = path.suffix.lower()
    if suffix not in TEXT_SUFFIXES:
        raise ConfigError(f"--file is '{path}', but must end in {', '.join(TEXT_SUFFIXES)}")
    if not path.is_file():
        raise NotFound(f"--file is '{path}', but no such file exists")
    if suffix == ".txt":
        return [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    texts = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if suffix == ".csv":
            reader = csv.DictReader(handle)
            if column not in (reader.fieldnames or []):
                raise ConfigError(f"--column is '{column}', but {path} has columns: "
                                  f"{', '.join(reader.fieldnames or []) or '(none: the file is empty)'}")
            for row in reader:  # line_num: the physical line the row ended on (quoted newlines included)
                texts.append(cell(row.get(column), path, reader.line_num, column))
            return texts
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ConfigError(f"{path} line {number} is not JSON: {error.msg}") from error
            if not isinstance(record, dict) or column not in record:
                found = ", ".join(record) if isinstance(record, dict) else type(record).__name__
                raise ConfigError(f"--column is '{column}', but {path} line {number} has: {found}")
            texts.append(cell(record[column], path, number, column))
    return texts


def cell(value: Any, path: Path, line: int, column: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{path} line {line}: column '{column}' is {value!r}, but must be a non-empty text")
    return value


def write_predictions(path: Path, predictions: list[Prediction], entities: bool = False) -> Path:
    """CSV (text, label, score) or JSON lines, by the suffix; with `entities` (token classification) each
    row also lists its entities, `{type, text, start, end, score}` (a JSON list in the CSV's column)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"text": p.text, "label": p.label, "score": round(p.score, 6),
             **({"entities": p.entities} if entities else {})} for p in predictions]
    with path.open("w", encoding="utf-8", newline="") as handle:
        if path.suffix.lower() == ".csv":
            writer = csv.writer(handle)
            writer.writerow(["text", "label", "score", *(["entities"] if entities else [])])
            writer.writerows([json.dumps(v) if k == "entities" else v for k, v in row.items()] for row in rows)
        else:
            handle.writelines(json.dumps(row) + "\n" for row in rows)
    return path
