"""Entities of a tag sequence and entity-level scores, as conlleval computes them (seqeval's default mode).

An entity is a maximal run of words of one type: it starts at a `B-TYPE`, or at an `I-TYPE` that does not
continue an entity of the same type (an I- tag after O or after another type starts one: conlleval's and
seqeval's default, lenient rule), and it ends before an O, a B-, or a tag of another type. seqeval's
`get_entities` extracts the spans; the counting is here:

- a predicted entity is a true positive when a true entity has the same type, first and last word;
- precision = TP / predicted entities, recall = TP / true entities, F1 = 2·TP / (predicted + true)
  (their harmonic mean), all micro-averaged over every entity of every sentence (0.0 where nothing is
  predicted or true, as seqeval gives with zero_division=0); per type the same over that type's entities,
  None where a ratio has nothing to divide by (`activities.metrics`' convention);
- token accuracy = words (labelled sub-tokens) whose tag is right / all of them, O included, so a model
  that tags everything O scores high on it and 0.0 on F1: the entity scores are the ones to read.

Positions labelled -100 (special tokens, continuation sub-tokens, padding) are left out before anything
is counted, so scores are at word level (with `task.label_all_tokens`, at the level of labelled sub-tokens).
"""

from __future__ import annotations

from collections import Counter

from workflows.payloads.messages import ClassMetrics

IGNORED = -100
"""The label of positions no loss or metric counts (transformers' ignore index)."""


def entities(tags: list[str]) -> list[tuple[str, int, int]]:
    """(type, first word, last word) of each entity of one sentence's tags, in order."""
    from seqeval.metrics.sequence_labeling import get_entities  # imports scikit-learn: only when scoring

    return [(kind, start, end) for kind, start, end in get_entities(list(tags))]


def tag_sequences(predicted: list[list[int]], actual: list[list[int]],
                  names: list[str]) -> tuple[list[list[str]], list[list[str]]]:
    """The predicted and true tag names of each sentence at its labelled positions (label != -100)."""
    out_predicted, out_actual = [], []
    for guesses, labels in zip(predicted, actual, strict=True):
        kept = [(g, y) for g, y in zip(guesses, labels, strict=False) if y != IGNORED]
        out_predicted.append([names[g] for g, _ in kept])
        out_actual.append([names[y] for _, y in kept])
    return out_predicted, out_actual


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def entity_scores(predicted: list[list[str]], actual: list[list[str]]) -> tuple[dict[str, float], list[ClassMetrics]]:
    """({f1, precision, recall, token_accuracy}, per-type scores sorted by type) over tag sentences."""
    true_spans: set[tuple[int, str, int, int]] = set()
    guessed: set[tuple[int, str, int, int]] = set()
    right = total = 0
    for number, (guesses, labels) in enumerate(zip(predicted, actual, strict=True)):
        true_spans.update((number, *span) for span in entities(labels))
        guessed.update((number, *span) for span in entities(guesses))
        right += sum(g == y for g, y in zip(guesses, labels, strict=True))
        total += len(labels)
    hits = true_spans & guessed
    by_type = {name: Counter(span[1] for span in spans) for name, spans in
               (("true", true_spans), ("guessed", guessed), ("hits", hits))}
    per_type = []
    for kind in sorted(set(by_type["true"]) | set(by_type["guessed"])):
        tp, support, made = by_type["hits"][kind], by_type["true"][kind], by_type["guessed"][kind]
        per_type.append(ClassMetrics(label=kind, precision=_ratio(tp, made), recall=_ratio(tp, support),
                                     f1=_ratio(2 * tp, made + support), support=support))
    tp = len(hits)
    metrics = {"f1": _ratio(2 * tp, len(guessed) + len(true_spans)) or 0.0,
               "precision": _ratio(tp, len(guessed)) or 0.0, "recall": _ratio(tp, len(true_spans)) or 0.0,
               "token_accuracy": right / total if total else 0.0}
    return metrics, per_type


def tagging_report(predicted: list[list[int]], actual: list[list[int]],
                   names: list[str]) -> tuple[dict[str, float], list[ClassMetrics]]:
    """`entity_scores` of label-index sequences (padded ones too: -100 positions are left out)."""
    return entity_scores(*tag_sequences(predicted, actual, names))
