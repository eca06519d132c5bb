"""Multi-label metrics of one evaluated split, from per-label counts: micro-F1, macro-F1, subset accuracy,
and each label's precision, recall, F1 and support.

A row's predicted set is the labels whose sigmoid probability is above `task.threshold`. Per label:
TP (predicted and true), FP (predicted, not true), FN (true, not predicted); support = TP + FN.
- micro-F1 = 2·ΣTP / (2·ΣTP + ΣFP + ΣFN), every (row, label) decision counted once (scikit-learn's
  `f1_score(average="micro")`).
- macro-F1 = the mean F1 over the labels PRESENT in the split (support > 0), as `activities.metrics` does
  for classes (scikit-learn's `average="macro"` with `labels=` the present ones); a label with no true
  rows would otherwise count as F1 = 0 and understate the score.
- subset accuracy = the share of rows whose predicted set equals the true set exactly (scikit-learn's
  `accuracy_score` on indicator matrices; a row with no labels is right when nothing is predicted). It is
  also reported as `accuracy`, the name a multirun's leaderboard ranks by.

During training the counts are accumulated on the device batch by batch (`count_batch`) and read once per
validation (`activities.engine.callbacks.val_metrics`); a test split is scored from lists
(`multi_label_report`). Pure Python apart from `count_batch`, which works on the tensors it is given.
"""

from __future__ import annotations

from typing import Any

from workflows.payloads.messages import ClassMetrics


def count_batch(predicted: Any, labels: Any) -> Any:
    """One long tensor [TP per label, FP per label, FN per label, exact rows, rows] of a batch, on its device.

    Args:
        predicted: bool [rows, labels], the labels above the threshold.
        labels: [rows, labels], the multi-hot truth (floats).
    """
    import torch  # only where a model runs: the runner imports this module through activities.evaluate

    truth = labels.to(predicted.device) > 0.5
    exact = (predicted == truth).all(dim=1).sum().reshape(1)
    rows = exact.new_full((1,), truth.shape[0])
    return torch.cat([(predicted & truth).sum(0), (predicted & ~truth).sum(0), (~predicted & truth).sum(0),
                      exact, rows]).long()


def report_from_counts(counts: list[int], label_names: list[str]) -> tuple[dict[str, float], list[ClassMetrics]]:
    """({micro_f1, macro_f1, subset_accuracy, accuracy}, per-label scores) from `count_batch`'s layout."""
    n = len(label_names)
    tp, fp, fn = counts[:n], counts[n:2 * n], counts[2 * n:3 * n]
    exact, rows = counts[3 * n], counts[3 * n + 1]
    per_label = []
    for i, name in enumerate(label_names):
        predicted, support = tp[i] + fp[i], tp[i] + fn[i]
        per_label.append(ClassMetrics(
            label=name,
            precision=tp[i] / predicted if predicted else None,
            recall=tp[i] / support if support else None,
            f1=2 * tp[i] / (2 * tp[i] + fp[i] + fn[i]) if tp[i] + fp[i] + fn[i] else None,
            support=support,
        ))
    decided = 2 * sum(tp) + sum(fp) + sum(fn)
    present = [c.f1 or 0.0 for c in per_label if c.support > 0]
    subset = exact / rows if rows else 0.0
    metrics = {"micro_f1": 2 * sum(tp) / decided if decided else 0.0,
               "macro_f1": sum(present) / len(present) if present else 0.0,
               "subset_accuracy": subset, "accuracy": subset}
    return metrics, per_label


def multi_label_report(predicted: list[list[int]], actual: list[list[int]],
                       label_names: list[str]) -> tuple[dict[str, float], list[ClassMetrics]]:
    """The metrics and per-label scores of one split, from each row's 0/1 predicted and true vectors."""
    n = len(label_names)
    counts = [0] * (3 * n + 2)
    for p, y in zip(predicted, actual, strict=True):
        for i in range(n):
            counts[i] += p[i] and y[i]
            counts[n + i] += p[i] and not y[i]
            counts[2 * n + i] += y[i] and not p[i]
        counts[3 * n] += list(map(bool, p)) == list(map(bool, y))
        counts[3 * n + 1] += 1
    return report_from_counts([int(c) for c in counts], label_names)


def chosen(probabilities: list[float], label_names: list[str], threshold: float,
           separator: str, none: str) -> tuple[str, float]:
    """What `predict` says of one text: its labels above `threshold` joined by `separator` with the lowest
    of their probabilities (how sure the weakest chosen label is); with none above it, `none` and the
    highest probability (how close the nearest label came)."""
    picked = [i for i, p in enumerate(probabilities) if p > threshold]
    if not picked:
        return none, float(max(probabilities))
    return separator.join(label_names[i] for i in picked), float(min(probabilities[i] for i in picked))
