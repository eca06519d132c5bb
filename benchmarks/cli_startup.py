"""Start-up of the commands that run nothing (issue 24, FAST): `train-tune --help`, a tab completion,
`--cfg job`, `status --help` and `results` of a workflow id no server knows, each a fresh process, beside
the bare imports they cannot avoid (`python -c "import hydra"`, `python -c "import temporalio.client"`).

Every command runs `--repeats` times; the arms take turns (repeat 1 of every arm, then repeat 2, ...) so
the machine's load falls on all of them alike. Figures: median and fastest wall time per arm, the median
over the median of each peer (the ratios), and the median CPU time (user + system) with its ratio, which
a loaded machine changes less than the wall time; the 1-minute load average before and after. `results`
asks a local dev server (started here, as the tests start theirs) for an id it does not have and must exit
3 (not found); a command that exits otherwise is reported as an error, not timed.

    python -m benchmarks.cli_startup --repeats 7
    python -m benchmarks.cli_startup --smoke       # 1 repeat (tests/benchmarks/test_cli_startup_smoke.py)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
TARGET_S = 1.5
"""Issue 24's target for `--help` and a completion, wall time on the project's 2-core machine."""
PEERS = {"import hydra": "import hydra", "import temporalio.client": "import temporalio.client"}


@dataclass
class Arm:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    expect: int = 0
    peer: str = "import hydra"
    """The bare import this arm is compared with (the one it cannot do without)."""
    target_s: float | None = None


def train_tune() -> list[str]:
    """The `train-tune` console script of this Python (what a user types), else the module it runs."""
    script = Path(sys.executable).parent / "train-tune"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "runner.cli"]


def completion(line: str) -> Arm:
    """What Hydra's bash completion runs at each Tab press (`train-tune -sc install=bash` prints it)."""
    return Arm(f"complete '{line}'", [*train_tune(), "-sc", "query=bash"],
               env={"COMP_LINE": line, "COMP_POINT": str(len(line))}, target_s=TARGET_S)


def arms(address: str) -> list[Arm]:
    cli = train_tune()
    return [
        *(Arm(name, [sys.executable, "-c", code], peer=name) for name, code in PEERS.items()),
        Arm("train-tune --help", [*cli, "--help"], target_s=TARGET_S),
        completion("train-tune model="),
        completion("train-tune trainer."),
        Arm("train-tune --cfg job", [*cli, "experiment=bert_single", "--cfg", "job"]),
        Arm("train-tune status --help", [*cli, "status", "--help"]),
        Arm("train-tune results NO-SUCH-ID", [*cli, "results", "no-such-run", "temporal=remote",
                                               f"temporal.address={address}"], expect=3,
            peer="import temporalio.client"),
    ]


def time_once(arm: Arm, cwd: Path) -> tuple[float, float]:
    """Wall time and CPU time (user + system, its children's too) of one run of `arm`."""
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(arm.argv, check=False, cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **arm.env})
    took = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != arm.expect:
        raise RuntimeError(f"{arm.name} exited {done.returncode}, not {arm.expect}: {(done.stderr or done.stdout)[-800:]}")
    return took, (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime)


def measure(all_arms: list[Arm], repeats: int, cwd: Path) -> dict[str, list[tuple[float, float]]]:
    times: dict[str, list[tuple[float, float]]] = {arm.name: [] for arm in all_arms}
    for arm in all_arms:  # a first, untimed run of each: the file cache holds every module afterwards
        time_once(arm, cwd)
    for _ in range(repeats):
        for arm in all_arms:
            times[arm.name].append(time_once(arm, cwd))
    return times


async def with_server(repeats: int, cwd: Path) -> tuple[list[Arm], dict[str, list[tuple[float, float]]]]:
    """Start a local dev server (for `results`), measure every arm, stop the server."""
    from temporalio.testing import WorkflowEnvironment

    from runner.embedded_server import free_port, temporal_binary

    port = free_port()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(), ip="127.0.0.1", port=port, ui=False,
        dev_server_extra_args=["--dynamic-config-value", "frontend.enableServerVersionCheck=false"])
    try:
        all_arms = arms(f"127.0.0.1:{port}")
        return all_arms, await asyncio.to_thread(measure, all_arms, repeats, cwd)
    finally:
        await env.shutdown()


def report(all_arms: list[Arm], times: dict[str, list[tuple[float, float]]], load: dict) -> dict:
    medians = {name: statistics.median(wall for wall, _ in values) for name, values in times.items()}
    cpu = {name: statistics.median(cpu for _, cpu in values) for name, values in times.items()}
    rows = []
    for arm in all_arms:
        median = medians[arm.name]
        rows.append({"arm": arm.name, "median_s": round(median, 3),
                     "min_s": round(min(wall for wall, _ in times[arm.name]), 3), "cpu_s": round(cpu[arm.name], 3),
                     "repeats": len(times[arm.name]), "peer": arm.peer,
                     "over_peer": round(median / medians[arm.peer], 2),
                     "over_import_hydra": round(median / medians["import hydra"], 2),
                     "cpu_over_peer": round(cpu[arm.name] / cpu[arm.peer], 2),
                     "target_s": arm.target_s, "met": None if arm.target_s is None else median < arm.target_s})
    return {"load": load, "python": sys.version.split()[0], "cpus": os.cpu_count(), "rows": rows}


def print_report(figures: dict) -> None:
    load = figures["load"]
    print(f"load average (1 min) before {load['before']:.2f}, after {load['after']:.2f}; {figures['cpus']} CPUs")
    print(f"{'arm':32s} {'median s':>9s} {'min s':>7s} {'/ peer':>7s} {'/ import hydra':>15s} {'CPU s':>6s} "
          f"{'CPU / peer':>11s}  target (median wall)")
    for row in figures["rows"]:
        target = "" if row["target_s"] is None else f"< {row['target_s']} s: {'met' if row['met'] else 'missed'}"
        print(f"{row['arm']:32s} {row['median_s']:9.3f} {row['min_s']:7.3f} {row['over_peer']:7.2f} "
              f"{row['over_import_hydra']:15.2f} {row['cpu_s']:6.2f} {row['cpu_over_peer']:11.2f}  {target}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="1 repeat, written as cli-startup-smoke.json")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    repeats = 1 if args.smoke else args.repeats
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="tt-cli-startup-") as folder:  # Hydra writes nothing into the repo
        all_arms, times = asyncio.run(with_server(repeats, Path(folder)))
    figures = report(all_arms, times, {"before": before, "after": os.getloadavg()[0]})
    print_report(figures)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "cli-startup-smoke" if args.smoke else "cli-startup"
    (out / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"written: {out / f'{name}.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
