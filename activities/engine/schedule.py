"""The learning-rate schedule: a multiplier of `optim.lr` for each optimiser step.

Linear warmup from 1/warmup to 1 over the first `warmup` steps (Goyal et al. 2017, "Accurate, Large
Minibatch SGD"), then, up to the step budget `total`, one of: constant; linear decay to 0 (as BERT's
fine-tuning, Devlin et al. 2019); or half a cosine to 0 (SGDR without restarts, Loshchilov & Hutter
2017). It is a function of the global step and the whole budget alone, so a fit resumed from a
checkpoint, or trained in segments, follows the same curve as one that never stopped.
"""

from __future__ import annotations

import math


def warmup_decay(step: int, warmup: int, total: int, kind: str) -> float:
    """LR multiplier: linear warmup to 1 over `warmup` steps, then linear or cosine decay to 0 at `total`
    (constant when kind == 'constant'). Defined over the whole budget, so resuming does not distort it."""
    if step < warmup:
        return (step + 1) / max(1, warmup)
    if kind == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return 1.0 - progress
