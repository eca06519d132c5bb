"""What a regression label column holds: one finite number per row, read the same way at resolve time and
when the snapshot is made.

Rules:
- A number is a JSON/parquet number or a csv cell that parses as a float after blanks are removed
  ('3', '2.75', '-1e-3'); booleans are not numbers.
- A missing label (empty cell, null, NaN) is an error naming the rows.
- Text that is not a number ('positive') is refused, saying the column looks like classes (task
  sequence_classification); a list per row looks like multi-label data.
- inf is refused: it has no mean, so nothing could be standardised or scored.
- A training split whose labels are all equal is refused: there is nothing to learn, and its standard
  deviation is 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from activities.labels import SHOWN
from workflows.payloads.errors import ConfigError


def as_number(value: Any) -> float | str | None:
    """A label as read: its float, None when missing, or the offending text when it is not a number."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return None if isinstance(value, float) and math.isnan(value) else float(value)
    if isinstance(value, (list, tuple)) or (not isinstance(value, str) and hasattr(value, "tolist")):
        return f"a list {list(value)!r}"
    text = str(value).strip()
    if not text or text.lower() in ("nan", "null", "none", "na", "n/a"):
        return None
    try:
        return float(text)
    except ValueError:
        return text


@dataclass
class TargetTally:
    """What one split's regression label column held: its numbers, and the first places of the bad rows."""

    source: str
    """The file as named in messages, e.g. "train file 'x.csv'"."""
    count: int = 0
    total: float = 0.0
    squares: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    missing: list[str] = field(default_factory=list)
    missing_count: int = 0
    not_numbers: list[tuple[str, str]] = field(default_factory=list)
    infinite: list[str] = field(default_factory=list)

    def add(self, place: str, value: Any) -> float:
        """Count `value` read at `place`; returns it as a float (nan when it is not a usable number)."""
        number = as_number(value)
        if number is None:
            self.missing_count += 1
            if len(self.missing) < SHOWN:
                self.missing.append(place)
            return math.nan
        if isinstance(number, str):
            if len(self.not_numbers) < SHOWN:
                self.not_numbers.append((place, number))
            return math.nan
        if not math.isfinite(number):
            if len(self.infinite) < SHOWN:
                self.infinite.append(place)
            return math.nan
        self.count += 1
        self.total += number
        self.squares += number * number
        self.low, self.high = min(self.low, number), max(self.high, number)
        return number

    def stats(self) -> dict[str, float]:
        """mean and (population) std of the numbers counted."""
        mean = self.total / self.count
        return {"mean": mean, "std": math.sqrt(max(0.0, self.squares / self.count - mean * mean))}


def check_targets(column: str, tallies: dict[str, TargetTally]) -> tuple[dict[str, float], list[str]]:
    """The training split's label stats ({mean, std}) and notes, or a ConfigError naming the file and rows.

    Args:
        column: `dataset.label_column` (named in messages).
        tallies: split -> its TargetTally; 'train' must be present.
    """
    key = f"dataset.label_column is '{column}' with task regression"
    for tally in tallies.values():
        if tally.missing_count:
            more = tally.missing_count - len(tally.missing)
            raise ConfigError(f"{key}, but {tally.source} has no label in {tally.missing_count} row(s) "
                              f"({', '.join(tally.missing)}{f' and {more} more' if more > 0 else ''}); "
                              "fill them in or remove those rows")
        if tally.not_numbers:
            place, text = tally.not_numbers[0]
            looks = ("multi-label data: use task=multi_label" if text.startswith("a list") else
                     "class labels: use task=sequence_classification (or pair_classification)")
            raise ConfigError(f"{key}, but {tally.source} holds {text if text.startswith('a list') else repr(text)} "
                              f"at {place}, which is not a number; the column looks like {looks}")
        if tally.infinite:
            raise ConfigError(f"{key}, but {tally.source} holds an infinite number at {tally.infinite[0]}; "
                              "give finite numbers")
    train = tallies["train"]
    stats = train.stats()
    if train.count < 2 or stats["std"] == 0:
        raise ConfigError(f"{key}, but every label of {train.source} is {train.low:g}; a regression needs "
                          "labels that vary")
    notes = []
    for split, tally in tallies.items():
        if split != "train" and tally.count and (tally.low < train.low or tally.high > train.high):
            notes.append(f"{tally.source}: labels span {tally.low:g}..{tally.high:g}, beyond the training "
                         f"split's {train.low:g}..{train.high:g}")
    return stats, notes
