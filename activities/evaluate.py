"""evaluate and predict: score the best checkpoint on a held-out split; label a few given texts."""

from __future__ import annotations


from temporalio import activity

from activities.errors import ConfigError, non_retryable
from workflows.messages import EvalResult, EvaluateRequest, Prediction, PredictRequest


def _device(accelerator: str):
    import torch

    return torch.device("cuda" if accelerator in ("gpu", "cuda") and torch.cuda.is_available() else "cpu")


def classification_metrics(predicted: list[int], actual: list[int], num_labels: int) -> dict[str, float]:
    """Accuracy and macro-F1 (unweighted mean over classes of 2·TP / (2·TP + FP + FN))."""
    correct = sum(p == a for p, a in zip(predicted, actual))
    f1s = []
    for label in range(num_labels):
        tp = sum(p == label and a == label for p, a in zip(predicted, actual))
        fp = sum(p == label and a != label for p, a in zip(predicted, actual))
        fn = sum(p != label and a == label for p, a in zip(predicted, actual))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return {"accuracy": correct / max(1, len(actual)), "macro_f1": sum(f1s) / max(1, num_labels)}


def run_evaluation(request: EvaluateRequest) -> EvalResult:
    import torch
    from torch.utils.data import DataLoader

    from activities.checkpoints import load_trained_classifier
    from activities.lightning_train import PadCollate, load_snapshot_splits

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
        for batch in loader:
            batch = {k: v.to(device) for k, v in batch.items()}
            out = model(**batch)
            total_loss += float(out.loss) * batch["labels"].shape[0]
            predicted += out.logits.argmax(-1).tolist()
            actual += batch["labels"].tolist()
            if activity.in_activity():
                activity.heartbeat(len(actual))
    metrics = classification_metrics(predicted, actual, len(snapshot.label_names))
    metrics["loss"] = total_loss / max(1, len(actual))
    return EvalResult(split=request.split, num_examples=len(actual), metrics=metrics)


@activity.defn
def evaluate(request: EvaluateRequest) -> EvalResult:
    """Load the checkpoint (weights only) and report loss, accuracy and macro-F1 on a held-out split."""
    try:
        return run_evaluation(request)
    except ConfigError as error:
        raise non_retryable(error) from error


@activity.defn
def predict(request: PredictRequest) -> list[Prediction]:
    """Label each given text with the checkpoint's most likely class and its probability."""
    import torch

    from activities.checkpoints import load_trained_classifier
    from activities.models import load_tokenizer, tokenizer_source

    try:
        model = load_trained_classifier(request.model, request.checkpoint, request.snapshot.label_names)
    except ConfigError as error:
        raise non_retryable(error) from error
    device = _device(request.accelerator)
    model.to(device)
    tokenizer = load_tokenizer(tokenizer_source(request.model))
    encoded = tokenizer(
        request.texts, truncation=True, max_length=request.snapshot.max_length, padding=True, return_tensors="pt"
    )
    with torch.inference_mode():
        probabilities = model(**{k: v.to(device) for k, v in encoded.items()}).logits.softmax(-1)
    best = probabilities.max(-1)
    return [
        Prediction(text=text, label=request.snapshot.label_names[int(i)], score=float(p))
        for text, p, i in zip(request.texts, best.values, best.indices)
    ]
