"""evaluate and predict: score the best checkpoint on a held-out split; label a few given texts.

Both run their torch work on the worker's torch threads (`activities.torch_thread`)."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable

from temporalio import activity

from activities.checkpoints import load_trained_classifier
from activities.errors import non_retryable
from activities.metrics import classification_report
from activities.models import load_tokenizer, tokenizer_source
from activities.torch_thread import on_torch_thread
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import EvalResult, EvaluateRequest, Prediction, PredictRequest


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
    model = load_trained_classifier(request.model, request.checkpoint, snapshot.label_names).to(device)
    data = load_snapshot_splits(snapshot)[request.split]
    loader = DataLoader(data, batch_size=request.batch_size, collate_fn=PadCollate(snapshot.pad_token_id))
    predicted: list[int] = []
    actual: list[int] = []
    total_loss = 0.0
    with torch.inference_mode():
        for on_host in loader:
            batch = {k: v.to(device) for k, v in on_host.items()}
            out = model(**batch)
            total_loss += float(out.loss) * batch["labels"].shape[0]
            predicted += out.logits.argmax(-1).tolist()
            actual += batch["labels"].tolist()
            heartbeat(len(actual))
    metrics, per_class, matrix = classification_report(predicted, actual, snapshot.label_names)
    metrics["loss"] = total_loss / max(1, len(actual))
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
    """Label each given text with the checkpoint's most likely class and its probability."""
    return await on_torch_thread(run_prediction, request)


def run_prediction(request: PredictRequest) -> list[Prediction]:
    import torch  # torch stays out of the runner and the workflow sandbox, which import this module

    try:
        model = load_trained_classifier(request.model, request.checkpoint, request.snapshot.label_names)
    except ConfigError as error:
        raise non_retryable(error) from error
    device = _device(request.accelerator)
    model.to(device)
    tokenizer = load_tokenizer(tokenizer_source(request.model))
    tokenizer.truncation_side = request.snapshot.truncation_side  # as the training data was cut
    encoded = tokenizer(
        request.texts, truncation=True, max_length=request.snapshot.max_length, padding=True, return_tensors="pt"
    )
    with torch.inference_mode():
        probabilities = model(**{k: v.to(device) for k, v in encoded.items()}).logits.softmax(-1)
    best = probabilities.max(-1)
    return [
        Prediction(text=text, label=request.snapshot.label_names[int(i)], score=float(p))
        for text, p, i in zip(request.texts, best.values, best.indices, strict=False)
    ]
