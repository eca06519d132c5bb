"""evaluate and predict: score the best checkpoint on a held-out split; label a few given texts.

Both run their torch work on the worker's torch threads (`activities.torch_thread`)."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable

from temporalio import activity

from activities.checkpoints import load_trained_classifier
from activities.encode import scale
from activities.errors import non_retryable
from activities.metrics import classification_report
from activities.multi_label_metrics import multi_label_report
from activities.ner.spans import tagging_report
from activities.regression_metrics import regression_report
from activities.torch_thread import on_torch_thread
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import POINTS_KEPT, EvalResult, EvaluateRequest, Prediction, PredictRequest


def _device(accelerator: str):
    import torch  # torch stays out of the runner and the workflow sandbox, which import this module

    return torch.device("cuda" if accelerator in ("gpu", "cuda") and torch.cuda.is_available() else "cpu")


def run_evaluation(request: EvaluateRequest, heartbeat: Callable[[int], None] = lambda n: None) -> EvalResult:
    # torch and Lightning stay out of the runner and the workflow sandbox, which import this module
    import torch
    from torch.utils.data import DataLoader

    from activities.engine.data import PadCollate, load_snapshot_splits

    snapshot = request.snapshot
    if request.split not in snapshot.split_sizes:
        raise ConfigError(f"evaluate split is '{request.split}', but the snapshot has: {', '.join(snapshot.split_sizes)}")
    device = _device(request.accelerator)
    model = load_trained_classifier(request.model, request.checkpoint, snapshot.label_names,
                                    snapshot.task.name).to(device)
    data = load_snapshot_splits(snapshot)[request.split]
    loader = DataLoader(data, batch_size=request.batch_size, collate_fn=PadCollate(snapshot.pad_token_id))
    regression, multi_label = snapshot.task.name == "regression", snapshot.task.name == "multi_label"
    predicted: list = []
    actual: list = []
    total_loss = 0.0
    with torch.inference_mode():
        for on_host in loader:
            batch = {k: v.to(device) for k, v in on_host.items()}
            out = model(**batch)
            total_loss += float(out.loss) * batch["labels"].shape[0]
            if multi_label:
                predicted += (out.logits.float().sigmoid() > snapshot.task.threshold).int().tolist()
            else:
                predicted += out.logits.squeeze(-1).float().tolist() if regression else out.logits.argmax(-1).tolist()
            actual += batch["labels"].tolist()
            heartbeat(len(actual))
    loss = total_loss / max(1, len(actual))
    if regression:
        mean, std = scale(snapshot.task.normalize, snapshot.label_stats)
        values, truth = [p * std + mean for p in predicted], [y * std + mean for y in actual]
        return EvalResult(split=request.split, num_examples=len(actual),
                          metrics={**regression_report(values, truth), "loss": loss},
                          points=[[y, p] for y, p in zip(truth, values, strict=True)][:POINTS_KEPT])
    if multi_label:  # per-label scores; no confusion matrix (a row may hold several labels)
        metrics, per_label = multi_label_report(predicted, [[int(y) for y in row] for row in actual], snapshot.label_names)
        return EvalResult(split=request.split, num_examples=len(actual),
                          metrics={**metrics, "loss": loss, "threshold": snapshot.task.threshold}, per_class=per_label)
    if snapshot.task.name == "token_classification":  # per entity type, no confusion matrix
        scores, types = tagging_report(predicted, actual, snapshot.label_names)
        return EvalResult(split=request.split, num_examples=len(actual), metrics={**scores, "loss": loss},
                          per_class=types)
    metrics, per_class, matrix = classification_report(predicted, actual, snapshot.label_names)
    metrics["loss"] = loss
    return EvalResult(split=request.split, num_examples=len(actual), metrics=metrics, per_class=per_class,
                      confusion_matrix=matrix)


def _heartbeat_from_thread() -> Callable[[int], object]:
    """A heartbeat that a torch thread may call: it runs on the activity's event loop, in its context."""
    loop, context = asyncio.get_running_loop(), contextvars.copy_context()
    return lambda done: loop.call_soon_threadsafe(activity.heartbeat, done, context=context)


@activity.defn
async def evaluate(request: EvaluateRequest) -> EvalResult:
    """Load the checkpoint (weights only) and report loss, accuracy, macro-F1 (over the classes present),
    per-class scores and the confusion matrix on a held-out split."""
    try:
        return await on_torch_thread(run_evaluation, request, _heartbeat_from_thread())
    except ConfigError as error:
        raise non_retryable(error) from error


@activity.defn
async def predict(request: PredictRequest) -> list[Prediction]:
    """Label each given text with the checkpoint's most likely class and its probability (regression: its
    predicted value; pair classification: each text is `first ||| second`; multi_label: the labels above
    the threshold, `activities.multi_label_metrics.chosen`)."""
    return await on_torch_thread(run_prediction, request)


def run_prediction(request: PredictRequest) -> list[Prediction]:
    from activities.export import snapshot_labeller  # torch-free at import; the labeller loads it when it runs

    snapshot = request.snapshot
    try:
        model = load_trained_classifier(request.model, request.checkpoint, snapshot.label_names, snapshot.task.name)
    except ConfigError as error:
        raise non_retryable(error) from error
    return snapshot_labeller(model, request.model, snapshot, _device(request.accelerator)).predict(request.texts)
