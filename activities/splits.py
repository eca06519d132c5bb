"""Carve the missing validation and test splits out of the training split, stratified by label.

Each carved split takes round(fraction x rows) rows in all (as an unstratified split would), shared out
among the classes in proportion to their rows by the largest-remainder rule (Hamilton's method), so every
split keeps the class proportions of the whole as closely as whole rows allow. A class too small for its
share still gets one row in each carved split while that leaves it at least one training row (taken from
the class with the largest share), so a rare class is evaluated where its count allows. Within a class the
rows are drawn by a permutation seeded with `dataset.split_seed`; each split is then shuffled with the same
seed, so the result depends on the data and the seed only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

CARVED = ("test", "validation")
"""Splits carved out of train when the source lacks them, in this order."""


def allocate(sizes: Sequence[int], total: int) -> list[int]:
    """Share `total` rows among classes of `sizes` rows: proportional, largest remainder first.

    >>> allocate([50, 30, 20], 10)
    [5, 3, 2]
    """
    whole = sum(sizes)
    if not whole:
        return [0] * len(sizes)
    quotas = [total * n / whole for n in sizes]
    shares = [min(n, math.floor(q)) for n, q in zip(sizes, quotas, strict=False)]
    by_remainder = sorted(range(len(sizes)), key=lambda i: (-(quotas[i] - math.floor(quotas[i])), i))
    left = total - sum(shares)
    for i in by_remainder * 2:
        if left <= 0:
            break
        if shares[i] < sizes[i]:
            shares[i] += 1
            left -= 1
    return shares


def _at_least_one(shares: list[int], available: Sequence[int]) -> list[int]:
    """Give one row to each class that has none but can spare it (two rows or more left)."""
    for i, share in enumerate(shares):
        if share == 0 and available[i] >= 2:
            donor = max(range(len(shares)), key=lambda j: (shares[j], -j))
            if shares[donor] > 1:
                shares[donor] -= 1
                shares[i] = 1
    return shares


def stratified_indices(labels: Sequence[str], fractions: dict[str, float], seed: int) -> dict[str, list[int]]:
    """Row indices of each carved split (keys of `fractions`) and of what stays in 'train'.

    Args:
        labels: The label of each training row.
        fractions: split -> fraction of all rows it takes (only the splits to carve).
        seed: Seeds every permutation.
    """
    import numpy as np  # only to carve splits: the runner imports this module without it

    rng = np.random.default_rng(seed)
    classes = sorted(set(labels))
    rows: dict[str, list[int]] = {c: [] for c in classes}
    for i, label in enumerate(labels):
        rows[label].append(i)
    pools = {c: [rows[c][k] for k in rng.permutation(len(rows[c]))] for c in classes}
    out: dict[str, list[int]] = {}
    for split in CARVED:
        if split not in fractions:
            continue
        total = max(1, int(round(fractions[split] * len(labels))))
        available = [len(pools[c]) for c in classes]
        shares = _at_least_one(allocate([max(0, n - 1) for n in available], total), available)
        out[split] = [i for c, share in zip(classes, shares, strict=False) for i in pools[c][:share]]
        pools = {c: pools[c][share:] for c, share in zip(classes, shares, strict=False)}
    out["train"] = [i for c in classes for i in pools[c]]
    return {split: [indices[k] for k in rng.permutation(len(indices))] for split, indices in out.items()}
