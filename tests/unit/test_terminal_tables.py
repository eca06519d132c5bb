"""The status and leaderboard tables, and lines naming paths and commands, as printed on a terminal and
piped (`runner.terminal`), at 80 and 200 columns: every column there with its header, none emptied, the
columns that name a job (its number, its overrides) never split inside a word, paths and commands never
split, and no box drawing when piped."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from runner import coordinate, terminal
from runner.coordinate import print_leaderboard, status_table
from runner.sweep_watch import trial_table
from runner.terminal import say, show
from workflows.payloads.records import TrialState
from workflows.payloads.runs import CoordinatorStatus, JobState

SHAPES = [(terminal_, width) for terminal_ in (True, False) for width in (80, 200)]
BOX = re.compile("[\u2500-\u257f]")  # the Box Drawing block: rich's borders and progress bars
LONG_PATH = "/srv/train-tune/runs/a-rather-long-run-root/checkpoints/multi-x3-0123456789/job2/step00000480.ckpt"
OVERRIDES = [["optim.lr=0.0003", "model=bert_tiny_with_a_much_longer_name"],
             ["optim.lr=0.0001", "model=bert_tiny_with_a_much_longer_name"],
             ["optim.lr=5e-05", "model=distilbert_base_uncased_finetuned"]]


def console(is_terminal: bool, width: int) -> Console:
    return Console(file=io.StringIO(), force_terminal=is_terminal, width=width, soft_wrap=True, color_system=None)


def printed(target: Console) -> str:
    assert isinstance(target.file, io.StringIO)
    return target.file.getvalue()


def multirun() -> CoordinatorStatus:
    states = ["running", "completed", "failed"]
    return CoordinatorStatus(name="multi", parallelism=2, done=False, jobs=[
        JobState(index=i, overrides=[*OVERRIDES[i], "trainer.max_steps=500"], workflow_id=f"multi-job{i}",
                 state=states[i], step=120 * i, max_steps=500, latest_checkpoint=f"{LONG_PATH}{i}",
                 error="RuntimeError: CUDA out of memory while training the second segment" if i == 2 else "",
                 val_metric=0.5 if i else None)
        for i in range(3)])


def trials() -> list[TrialState]:
    return [TrialState(number=n, params={"optim.lr": 10 ** -(3 + n / 7), "optim.weight_decay": 0.01 * n,
                                         "model.dropout": 0.1, "trainer.gradient_clip_val": 1.0},
                       state="running" if n else "completed", rung=0, metrics=[1.2 - n / 10], rung_steps=[30],
                       rung_metrics=[{"val_loss": 1.2 - n / 10, "val_accuracy": 0.5, "val_macro_f1": 0.4}])
            for n in range(3)]


def columns(text: str, is_terminal: bool) -> list[list[str]]:
    """The table's cells by column: the `│`-separated cells of its body rows on a terminal; piped, the
    header's columns (two spaces or more apart) cut out of every row."""
    lines = text.splitlines()
    if is_terminal:
        rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines if line.startswith("│")]
        return [list(column) for column in zip(*rows, strict=True)]
    header = next(i for i, line in enumerate(lines) if re.match(r"(job|rank|trial)  ", line))
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", lines[header])]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    return [[line[a:b].strip() for line in lines[header + 1:] if line.strip()] for a, b in bounds]


@pytest.mark.parametrize(("is_terminal", "width"), SHAPES)
def test_the_multirun_table_keeps_every_column_and_each_job_s_overrides_whole(is_terminal, width):
    target = console(is_terminal, width)
    show(status_table(multirun()), target)
    text = printed(target)
    for header in ("job", "overrides", "state", "step", "progress", "checkpoint", "metric"):
        assert header in text, text
    for overrides in OVERRIDES:  # only those the jobs do not share: each whole, all on one line when piped
        assert all(override in text for override in overrides) and "trainer.max_steps" not in text, text
        assert " ".join(overrides) in text or is_terminal, text
    cells = columns(text, is_terminal)
    assert len(cells) == 7, text
    assert all(any(cell for cell in column) for column in cells), text  # no column emptied
    assert [c for c in cells[0] if c] == ["0", "1", "2"], text
    assert (BOX.search(text) is not None) == is_terminal, text
    if not is_terminal:
        assert len([line for line in text.splitlines() if line.strip()]) == 5  # title, header, one line per job


@pytest.mark.parametrize(("is_terminal", "width"), SHAPES)
def test_the_sweep_trial_table_keeps_every_column(is_terminal, width):
    target = console(is_terminal, width)
    show(trial_table(trials(), {1: "step 12/30", 2: "step 3/30"}), target)
    text = printed(target)
    for header in ("trial", "params", "state", "@30"):
        assert header in text, text
    assert "running (step 12/30)" in text and "optim.lr=0.00072" in text, text
    assert "trainer.gradient_clip_val=1" in text and "accuracy 0.5000" in text, text  # the wide column gave way
    cells = columns(text, is_terminal)
    assert len(cells) == 4 and all(any(cell for cell in column) for column in cells), text
    assert (BOX.search(text) is not None) == is_terminal, text
    if not is_terminal:  # one line per trial, its metrics at a rung side by side
        assert "loss 1.1000; accuracy 0.5000; macro_f1 0.4000" in text, text
        assert len([line for line in text.splitlines() if line.strip()]) == 5, text


@pytest.mark.parametrize(("is_terminal", "width"), SHAPES)
def test_the_multirun_leaderboard_names_each_job(is_terminal, width, monkeypatch):
    target = console(is_terminal, width)
    monkeypatch.setattr(terminal, "console", target)
    print_leaderboard(coordinate.leaderboard(multirun()))
    text = printed(target)
    for header in ("rank", "job", "overrides", "state", "test_accuracy", "test_macro_f1", "test_loss", "error"):
        assert header in text, text
    for overrides in OVERRIDES:
        assert all(override in text for override in overrides), text
        assert " ".join(overrides) in text or is_terminal, text
    assert (BOX.search(text) is not None) == is_terminal, text


@pytest.mark.parametrize(("is_terminal", "width"), SHAPES)
def test_paths_and_commands_are_never_broken(is_terminal, width):
    target = console(is_terminal, width)
    command = "train-tune results multi-x3-0123456789-20260101-120000 temporal=remote temporal.address=host:7233"
    say(f"leaderboard written to {LONG_PATH} (and .json)", target)
    say(f"multi-x3 is still running: `{command}` once it ends writes its files", target)
    text = printed(target)
    assert LONG_PATH in text and command in text, text
    assert len(text.splitlines()) == 2, text


def test_the_default_console_soft_wraps():
    """What every line of the runner goes through: rich never inserts a line break of its own."""
    assert terminal.console.soft_wrap
