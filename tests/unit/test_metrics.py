"""Classification metrics (`activities.metrics`): macro-F1 over the classes present in the split,
per-class scores and the confusion matrix, checked by hand and against scikit-learn's definitions."""

from __future__ import annotations

import pytest

from activities.metrics import classification_report, confusion_matrix, macro_f1, per_class_metrics

LABELS = ["business", "sports", "tech"]


def test_macro_f1_leaves_out_a_class_absent_from_the_split():
    # "tech" has no true examples and is never predicted: averaging over all three classes gave 2/3 of
    # the score of the two present classes (what issue 18 saw: 0.2411 where the present gave 0.362)
    actual = [0, 0, 1, 1]
    predicted = [0, 1, 1, 1]
    metrics, per_class, _ = classification_report(predicted, actual, LABELS)
    f1_business, f1_sports = 2 / 3, 0.8  # business: TP 1, FN 1; sports: TP 2, FP 1
    assert metrics["macro_f1"] == pytest.approx((f1_business + f1_sports) / 2)
    assert metrics["macro_f1"] > (f1_business + f1_sports) / 3  # the old average over all labels
    assert metrics["accuracy"] == pytest.approx(0.75)
    tech = per_class[2]
    assert (tech.label, tech.support, tech.precision, tech.recall, tech.f1) == ("tech", 0, None, None, None)


def test_a_class_predicted_but_never_true_is_left_out_of_the_mean_but_costs_the_true_class():
    actual = [0, 0, 1, 1]
    predicted = [0, 2, 1, 1]  # one business article called tech; no tech in the split
    metrics, per_class, matrix = classification_report(predicted, actual, LABELS)
    assert matrix == [[1, 0, 1], [0, 2, 0], [0, 0, 0]]
    business, sports, tech = per_class
    assert (tech.support, tech.precision, tech.recall, tech.f1) == (0, 0.0, None, 0.0)
    assert (business.precision, business.recall, business.f1) == (1.0, 0.5, pytest.approx(2 / 3))
    assert (sports.precision, sports.recall, sports.f1) == (1.0, 1.0, 1.0)
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 1.0) / 2)


def test_a_present_class_never_predicted_counts_as_f1_zero():
    actual = [0, 1, 2]
    predicted = [0, 1, 1]
    metrics, per_class, _ = classification_report(predicted, actual, LABELS)
    tech = per_class[2]
    assert (tech.support, tech.precision, tech.recall, tech.f1) == (1, None, 0.0, 0.0)
    assert metrics["macro_f1"] == pytest.approx((1.0 + 2 / 3 + 0.0) / 3)


def test_confusion_matrix_rows_are_true_labels_and_columns_predicted():
    matrix = confusion_matrix(predicted=[1, 1, 2, 0], actual=[0, 1, 2, 2], num_labels=3)
    assert matrix == [[0, 1, 0], [0, 1, 0], [1, 0, 1]]
    assert [c.support for c in per_class_metrics(matrix, LABELS)] == [1, 1, 2]


def test_an_empty_split_scores_zero_without_dividing_by_zero():
    metrics, per_class, matrix = classification_report([], [], LABELS)
    assert metrics == {"accuracy": 0.0, "macro_f1": 0.0}
    assert matrix == [[0] * 3] * 3 and all(c.support == 0 for c in per_class)
    assert macro_f1([]) == 0.0


def test_predictions_and_labels_must_pair_up():
    with pytest.raises(ValueError):
        confusion_matrix([0, 1], [0], 3)
