"""Data at scale: train-tune's dataset snapshot of a large csv beside plain Hugging Face `datasets`, and the
training speed on a large snapshot beside a small one.

A csv of N rows is generated (in a temp folder) from the shipped BBC News articles: one row per paragraph,
cycled, with columns id, text (the paragraph), title (its article's headline), label (the article's class)
and score (a float). For each N, in one run, two arms each run in a fresh child process (so a child's peak
RSS, `ru_maxrss` from `os.wait4`, is that arm's alone), in alternating order:
- ours: `activities.snapshot.build_snapshot` on the config `model=bert_tiny dataset=csv` resolves to
  (read, check labels, carve stratified validation/test splits, tokenise, save Arrow files, digest them);
- hf: `datasets.load_dataset("csv", data_files=...)` then `.map(tokenizer, batched=True)`, the same fast
  tokenizer and max_length, its own empty cache folder.
Timing starts after the same imports in both arms (`datasets`; until 2026-12-04 ours imported it inside its
clock: 0.7-0.9 s at load 2, most of the 10k gap) and includes loading the tokenizer (and the transformers import
it makes), in both arms. Then bert_tiny trains
`--steps` steps (after 5 warm-up steps, batch 16; `activities.engine.fitting.fit`, samples/s from its
`Throughput`) on the largest and the smallest snapshot, each in a child process, to show that training reads
the snapshot memory-mapped (steps/s and peak RSS should not depend on its rows).

    python -m benchmarks.snapshot_scale                       # 10k, 100k and 1M rows
    python -m benchmarks.snapshot_scale --rows 10000 100000   # some sizes
    python -m benchmarks.snapshot_scale --smoke               # 2,000 and 4,000 rows, 6 steps (CI)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pickle
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
MAX_LENGTH = 128
FRACTIONS = ("dataset.validation_fraction=0.01", "dataset.test_fraction=0.01")
"""Small carved splits, so the final validation of the training arm is short at 1M rows."""
WARMUP = 5
"""Steps `Throughput` skips before it measures."""


def paragraphs() -> list[tuple[str, str, str]]:
    """(paragraph, headline, class) of every paragraph of the shipped BBC News articles, in a stable order."""
    from runner.config_schema import register_configs
    from tests.conftest import compose_config

    register_configs()
    root = Path(str(compose_config("dataset=bbc_news").dataset.path))
    found = []
    for folder in sorted(d for d in root.iterdir() if d.is_dir()):
        for file in sorted(folder.iterdir()):
            lines = [line.strip() for line in file.read_text(errors="replace").splitlines() if line.strip()]
            found += [(line, lines[0], folder.name) for line in lines[1:]]
    return found


def make_csv(path: Path, rows: int, source: list[tuple[str, str, str]]) -> int:
    """Write `rows` rows cycling through `source` in a seeded shuffle; returns the file's size in bytes."""
    order = list(range(len(source)))
    random.Random(0).shuffle(order)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text", "title", "label", "score"])
        for i in range(rows):
            text, title, label = source[order[i % len(order)]]
            writer.writerow([i, text, title, label, f"{(i * 0.6180339887) % 1:.6f}"])
    return path.stat().st_size


def overrides(csv_path: Path, run_root: Path, *extra: str) -> list[str]:
    return ["model=bert_tiny", "dataset=csv", f"dataset.data_files.train={csv_path}", "dataset.text_column=text",
            "dataset.label_column=label", f"dataset.max_length={MAX_LENGTH}", *FRACTIONS, f"run_root={run_root}",
            *extra]


def resolved(*args: str):
    from runner.resolve import resolve_run
    from tests.conftest import compose_config

    return resolve_run(compose_config(*args))[0]


class AnonPeak:
    """The largest `RssAnon` of a process (its memory but file pages: mapped Arrow files are page cache),
    sampled every 0.1 s from /proc while it runs (Linux; 0 elsewhere)."""

    def __init__(self, pid: int):
        import threading

        self.pid, self.peak_kb, self.done = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        while not self.done.wait(0.1):
            try:
                status = Path(f"/proc/{self.pid}/status").read_text()
            except OSError:
                return
            for line in status.splitlines():
                if line.startswith("RssAnon:"):
                    self.peak_kb = max(self.peak_kb, int(line.split()[1]))

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


def run_child(arm: str, job: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Run one arm in a fresh Python; its figures with its peak RSS (MB) and the load around it."""
    job_file = folder / f"{arm}-{time.monotonic_ns()}.pkl"
    job_file.write_bytes(pickle.dumps(job))
    load_before = os.getloadavg()[0]
    child = subprocess.Popen([sys.executable, "-m", "benchmarks.snapshot_scale", "--child", arm, str(job_file)],
                             stdout=subprocess.PIPE, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    anon = AnonPeak(child.pid)
    out = child.stdout.read() if child.stdout else ""
    anon.stop()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise RuntimeError(f"arm {arm} failed (exit {child.returncode}): {out[-2000:]}")
    figures = json.loads(out.strip().splitlines()[-1])
    return {**figures, "peak_mb": round(usage.ru_maxrss / 1024, 1), "peak_anon_mb": round(anon.peak_kb / 1024, 1),
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)}


def child_ours(job: dict[str, Any]) -> dict[str, Any]:
    import datasets  # noqa: F401 - imported before the clock, as the hf arm does (the snapshot imports it lazily)

    from activities.snapshot import build_snapshot

    start = time.perf_counter()
    snapshot = build_snapshot(job["request"])
    return {"seconds": time.perf_counter() - start, "reused": snapshot.reused, "rows": sum(snapshot.split_sizes.values())}


def child_hf(job: dict[str, Any]) -> dict[str, Any]:
    import datasets

    from activities.models import load_tokenizer

    datasets.disable_progress_bars()
    start = time.perf_counter()
    tokenizer = load_tokenizer(job["tokenizer"])
    table = datasets.load_dataset("csv", data_files=job["csv"], cache_dir=job["cache"])["train"]
    table = table.map(lambda batch: tokenizer(batch["text"], truncation=True, max_length=job["max_length"]),
                      batched=True)
    return {"seconds": time.perf_counter() - start, "rows": len(table)}


def child_train(job: dict[str, Any]) -> dict[str, Any]:
    import threading

    from activities.engine.fitting import fit

    start = time.perf_counter()
    result = fit(job["request"], None, lambda progress: None, threading.Event(), attempt=1)
    steps_per_s = (result.samples_per_second or 0.0) / job["batch_size"]
    return {"seconds": time.perf_counter() - start, "steps_per_s": steps_per_s, "steps": result.global_step}


CHILDREN = {"ours": child_ours, "hf": child_hf, "train": child_train}


def measure_size(rows: int, position: int, source: list, folder: Path) -> tuple[dict[str, Any], Any]:
    """Both snapshot arms at one size, in alternating order; returns the row and our snapshot's request."""
    from workflows.payloads.messages import SnapshotRequest

    csv_path = folder / f"rows-{rows}.csv"
    size = make_csv(csv_path, rows, source)
    started = time.perf_counter()
    run = resolved(*overrides(csv_path, folder / f"ours-{rows}"))
    resolve_s = time.perf_counter() - started
    request = SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root)
    jobs = {"ours": {"request": request},
            "hf": {"csv": str(csv_path), "tokenizer": run.model.tokenizer, "max_length": MAX_LENGTH,
                   "cache": str(folder / f"hf-cache-{rows}")}}
    order = ["ours", "hf"] if position % 2 == 0 else ["hf", "ours"]
    arms = {arm: run_child(arm, jobs[arm], folder) for arm in order}
    if arms["ours"]["reused"]:
        raise RuntimeError("our arm reused a snapshot: it must build one")
    return {"rows": rows, "csv_mb": round(size / 2**20, 1), "order": order, "resolve_check_s": round(resolve_s, 2),
            "ours": arms["ours"], "hf": arms["hf"],
            "ratio": arms["ours"]["seconds"] / arms["hf"]["seconds"]}, run


def measure_training(runs: dict[int, Any], steps: int, folder: Path) -> list[dict[str, Any]]:
    """bert_tiny trained `steps` steps after warm-up on the largest and the smallest snapshot, in the order
    large, small, small, large (the machine is shared: load drifts); each size's figures are the means."""
    from activities.snapshot import build_snapshot
    from workflows.payloads.messages import SnapshotRequest, TrainRequest

    jobs = {}
    for rows in {max(runs), min(runs)}:
        run = runs[rows]
        snapshot = build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))
        total = WARMUP + steps
        trainer = replace(run.trainer, max_steps=total, batch_size=16, val_every_n_steps=total,
                          checkpoint_every_n_steps=total)
        request = TrainRequest(model=run.model, optim=run.optim, trainer=trainer, snapshot=snapshot, seed=run.seed,
                               checkpoint_dir="", stop_at_step=total, run_root=run.run_root, signal_progress=False,
                               logger=run.logger)
        jobs[rows] = (request, snapshot.split_sizes["train"])
    done: dict[int, list[dict[str, Any]]] = {}
    for turn, rows in enumerate([max(runs), min(runs), min(runs), max(runs)]):
        request = replace(jobs[rows][0], checkpoint_dir=str(folder / f"train-{rows}-{turn}"))
        done.setdefault(rows, []).append(run_child("train", {"request": request, "batch_size": 16}, folder))
    return [{"rows": rows, "train_rows": jobs[rows][1], "runs": runs_,
             **{key: sum(r[key] for r in runs_) / len(runs_)
                for key in ("steps_per_s", "peak_mb", "peak_anon_mb", "seconds")},
             "load_before": runs_[0]["load_before"], "load_after": runs_[-1]["load_after"]}
            for rows, runs_ in sorted(done.items(), reverse=True)]


def report(sizes: list[dict[str, Any]], training: list[dict[str, Any]]) -> dict[str, Any]:
    figures: dict[str, Any] = {"cpus": os.cpu_count(), "max_length": MAX_LENGTH, "sizes": sizes,
                               "training": training}
    if len(training) == 2:
        figures["training_ratio"] = training[0]["steps_per_s"] / training[1]["steps_per_s"]
    return figures


def mb(figures: dict[str, Any]) -> str:
    return f"{figures['peak_mb']:.0f}/{figures['peak_anon_mb']:.0f}"


def print_report(figures: dict[str, Any]) -> None:
    print(f"\n{figures['cpus']} CPUs; load average (1 min) before/after each arm")
    print("MB: peak RSS (with the mapped files' pages) / peak RssAnon (without)")
    print(f"{'rows':>9} {'csv MB':>7} {'ours s':>8} {'HF s':>8} {'ours/HF':>8} {'ours MB':>10} {'HF MB':>10}"
          f"  {'load ours':>11} {'load HF':>11}")
    for row in figures["sizes"]:
        ours, hf = row["ours"], row["hf"]
        print(f"{row['rows']:>9,} {row['csv_mb']:>7} {ours['seconds']:>8.2f} {hf['seconds']:>8.2f} "
              f"{row['ratio']:>8.3f} {mb(ours):>10} {mb(hf):>10}  "
              f"{ours['load_before']:>5}/{ours['load_after']:<5} {hf['load_before']:>5}/{hf['load_after']:<5}")
    if not figures["training"]:
        return
    print(f"\n{'snapshot rows':>13} {'train rows':>10} {'steps/s':>8} {'peak MB':>10} {'load':>11}")
    for row in figures["training"]:
        print(f"{row['rows']:>13,} {row['train_rows']:>10,} {row['steps_per_s']:>8.2f} {mb(row):>10} "
              f"{row['load_before']:>5}/{row['load_after']:<5}")
    if "training_ratio" in figures:
        print(f"steps/s, largest / smallest snapshot: {figures['training_ratio']:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--steps", type=int, default=30, help="training steps measured after the warm-up; 0: none")
    parser.add_argument("--smoke", action="store_true", help="2,000 and 4,000 rows, 6 steps (snapshot-scale-smoke.json)")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--child", nargs=2, metavar=("ARM", "JOB"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        arm, job = args.child
        print(json.dumps(CHILDREN[arm](pickle.loads(Path(job).read_bytes()))))
        return 0
    rows, steps = ([2_000, 4_000], 6) if args.smoke else (args.rows, args.steps)
    source = paragraphs()
    with tempfile.TemporaryDirectory(prefix="tt-snapshot-scale-") as name:
        folder = Path(name)
        sizes, runs = [], {}
        for position, n in enumerate(rows):
            row, runs[n] = measure_size(n, position, source, folder)
            sizes.append(row)
            print(f"{n:,} rows: ours {row['ours']['seconds']:.2f} s, HF {row['hf']['seconds']:.2f} s", flush=True)
        figures = report(sizes, measure_training(runs, steps, folder) if steps else [])
    print_report(figures)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "snapshot-scale-smoke" if args.smoke else "snapshot-scale"
    (out / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"written: {out / f'{name}.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
