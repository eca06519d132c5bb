"""Classification metrics of one evaluated split: accuracy, macro-F1, per-class scores, confusion matrix.

Macro-F1 is the unweighted mean of the per-class F1 over the classes PRESENT in the split (support > 0),
as scikit-learn computes it with `labels=` the present classes. Averaging over every class of the label
set instead counts each class with no examples as F1 = 0 and understates the score (issue 18: 0.2411
reported where the present classes give 0.362). A class that is predicted but never true still counts
against the others: each of its false positives is a false negative of the true class.

Pure Python on lists of label indices, so it is testable without torch.
"""

from __future__ import annotations

from workflows.payloads.messages import ClassMetrics


def confusion_matrix(predicted: list[int], actual: list[int], num_labels: int) -> list[list[int]]:
    """counts[true][predicted], rows and columns in label-index order."""
    counts = [[0] * num_labels for _ in range(num_labels)]
    for p, a in zip(predicted, actual, strict=True):
        counts[a][p] += 1
    return counts


def per_class_metrics(matrix: list[list[int]], label_names: list[str]) -> list[ClassMetrics]:
    """Precision, recall, F1 and support of each label, from a confusion matrix.

    A ratio with nothing to divide by is None: precision of a class never predicted, recall of a class
    with no true examples, F1 of a class neither predicted nor true. F1 is 2·TP / (2·TP + FP + FN), so a
    class with examples that is never predicted has F1 = 0 (not None)."""
    scores = []
    for index, name in enumerate(label_names):
        tp = matrix[index][index]
        support = sum(matrix[index])
        predicted = sum(row[index] for row in matrix)
        fp, fn = predicted - tp, support - tp
        scores.append(ClassMetrics(
            label=name,
            precision=tp / predicted if predicted else None,
            recall=tp / support if support else None,
            f1=2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None,
            support=support,
        ))
    return scores


def macro_f1(per_class: list[ClassMetrics]) -> float:
    """Mean F1 over the classes with support > 0 (0.0 when the split is empty)."""
    present = [c.f1 or 0.0 for c in per_class if c.support > 0]
    return sum(present) / len(present) if present else 0.0


def classification_report(
    predicted: list[int], actual: list[int], label_names: list[str]
) -> tuple[dict[str, float], list[ClassMetrics], list[list[int]]]:
    """(flat metrics {accuracy, macro_f1}, per-class scores, confusion matrix) of one split."""
    matrix = confusion_matrix(predicted, actual, len(label_names))
    per_class = per_class_metrics(matrix, label_names)
    correct = sum(matrix[i][i] for i in range(len(label_names)))
    metrics = {"accuracy": correct / len(actual) if actual else 0.0, "macro_f1": macro_f1(per_class)}
    return metrics, per_class, matrix
