"""Does a sweep's first rung rank its trials as its top rung does? A successive-halving ladder promotes on
the first rung's ranking; where that ranking is noise, so are its promotions.

`n` configurations are drawn from the sweep's search space (Optuna's RandomSampler, seeded), and each is
trained through every rung of the sweep's ladder without pruning, with train-tune's own `fit`, resuming
from its checkpoint at each rung boundary (one LR schedule over the top rung, as a ladder trains it).
Every validation metric is recorded at every rung. Reported per metric:
- Spearman's rank correlation between the first and the top rung across the `n` configurations
  (`runner.rung_order.spearman`, as `train-tune results` computes it; undefined, None, where either rung's
  values are all equal);
- each rung's spread (max - min) against its noise level (`runner.rung_noise`, the same rule the
  `train-tune results` warning applies).

    python -m benchmarks.rung_signal --trials 8 experiment=bert_sweep          # the shipped example

`benchmarks.search_efficiency_real --rank-trials N` runs the same check on its own setup (its `--smoke`, the
check alone at a tiny size, runs in tests/benchmarks).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
METRICS = ("val_loss", "val_accuracy", "val_macro_f1")


def spearman(first: list[float], top: list[float]) -> float | None:
    """Spearman's rank correlation of two paired lists over their finite pairs (a diverged trial is left
    out), as `train-tune results` computes it (`runner.rung_order.spearman`: ties share their mean rank; None
    with fewer than 3 pairs, or one side constant)."""
    from runner.rung_order import spearman as rank_correlation

    pairs = [(a, b) for a, b in zip(first, top, strict=True) if math.isfinite(a) and math.isfinite(b)]
    return rank_correlation([a for a, _ in pairs], [b for _, b in pairs])


def sampled_params(sweep, n: int, seed: int) -> list[dict[str, Any]]:
    """`n` configurations of the sweep's space, drawn as a random sampler would."""
    import optuna

    from activities.suggest import distributions
    from benchmarks.orchestration_overhead import suggest

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    dists, drawn = distributions(sweep.space), []
    for _ in range(n):
        trial = study.ask()
        drawn.append({key: suggest(trial, key, dist) for key, dist in dists.items()})
        study.tell(trial, 0.0)
    return drawn


def rung_steps(sweep) -> list[int]:
    if sweep.unit != "steps":
        raise SystemExit(f"ladder.unit is {sweep.unit!r}: the rank check reads rungs in steps only")
    return [int(r) for r in sweep.rungs]


def train_through_rungs(sweep, snapshot, params: dict[str, Any], folder: str) -> list[dict[str, float]]:
    """Every validation metric at each rung of the sweep, for one configuration trained rung by rung."""
    import shutil

    from benchmarks.harness import fit_segment

    shutil.rmtree(folder, ignore_errors=True)  # a kept --run-root's earlier check: nothing of it is resumed
    resume, at_rungs = None, []
    for step in rung_steps(sweep):
        result = fit_segment(sweep, snapshot, params, folder, stop_at=step, resume=resume)
        resume = Path(result.last_checkpoint)
        at_rungs.append(dict(result.val_metrics))
    return at_rungs


def rank_check(sweep, n: int, seed: int) -> dict[str, Any]:
    """Train `n` sampled configurations of `sweep` through its rungs; the per-rung figures and, per metric,
    the rank correlation of the first rung with the top one and each rung's spread against its noise."""
    from benchmarks.harness import snapshot_of
    from runner.rung_noise import rung_spread

    snapshot = snapshot_of(sweep)
    n_val = snapshot.split_sizes.get("validation")
    steps, trials, started = rung_steps(sweep), [], time.perf_counter()
    for i, params in enumerate(sampled_params(sweep, n, seed)):
        folder = f"{sweep.base.run_root}/checkpoints/rank-check-{seed}/config{i}"
        trials.append({"params": params, "metrics": train_through_rungs(sweep, snapshot, params, folder)})
        print(f"config {i} {params}: " + "; ".join(
            f"@{s} loss {m.get('val_loss', math.nan):.4f} acc {m.get('val_accuracy', math.nan):.4f}"
            for s, m in zip(steps, trials[-1]["metrics"], strict=True)) + f" ({time.perf_counter() - started:.0f} s)",
            flush=True)
    summary: dict[str, Any] = {}
    for metric in METRICS:
        by_rung = [[t["metrics"][r].get(metric, math.nan) for t in trials] for r in range(len(steps))]
        summary[metric] = {
            "spearman_first_top": spearman(by_rung[0], by_rung[-1]),
            "rungs": [{"steps": s, "median": _median(values), "spread": spread.spread, "noise": spread.noise,
                       "within_noise": spread.within_noise}
                      for s, values in zip(steps, by_rung, strict=True)
                      for spread in [rung_spread(metric, values, n_val)]],
        }
    return {"rungs": steps, "n_val": n_val, "seed": seed, "trials": trials, "metrics": summary,
            "wall_s": round(time.perf_counter() - started, 1)}


def _median(values: list[float]) -> float:
    finite = sorted(v for v in values if math.isfinite(v))
    if not finite:
        return math.nan
    return finite[len(finite) // 2] if len(finite) % 2 else (finite[len(finite) // 2 - 1] + finite[len(finite) // 2]) / 2


def print_summary(check: dict[str, Any]) -> None:
    print(f"\nrank check: {len(check['trials'])} configurations, rungs {check['rungs']}, "
          f"{check['n_val']} validation examples")
    for metric, figures in check["metrics"].items():
        rho = figures["spearman_first_top"]
        rungs = ", ".join(f"@{r['steps']}: median {r['median']:.4f} spread {r['spread']:.4f} (noise {r['noise']:.4f}"
                          f"{', within' if r['within_noise'] else ''})" for r in figures["rungs"])
        print(f"  {metric:13s} spearman(first, top) = {'undefined' if rho is None else f'{rho:+.3f}'}; {rungs}")


def resolved(overrides: list[str], run_root: Path):
    from runner.config_schema import register_configs
    from runner.resolve import resolve_run
    from runner.sweep_config import resolve_sweep
    from tests.conftest import compose_config

    register_configs()
    base, plain = resolve_run(compose_config(*overrides, f"run_root={run_root}"))
    return resolve_sweep(base, plain)


def main(argv: list[str] | None = None) -> int:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="the sweep's config (Hydra overrides), e.g. experiment=bert_sweep")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-root", default="", help="keep the snapshot and checkpoints here (default: a temp folder)")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--name", default="rung-signal")
    args = parser.parse_args(argv)
    overrides = args.overrides or ["experiment=bert_sweep"]
    with tempfile.TemporaryDirectory(prefix="tt-rung-signal-") as tmp:
        check = rank_check(resolved(overrides, Path(args.run_root or tmp)), args.trials, args.seed)
    check["overrides"] = overrides
    print_summary(check)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.json").write_text(json.dumps(check, indent=2))
    print(f"written: {out / f'{args.name}.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
