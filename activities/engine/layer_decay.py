"""Layer-wise learning-rate decay (`optim.layer_decay`): the optimiser's parameter groups of a transformer
classifier, each with its share of `optim.lr`.

With decay d and N encoder layers, the classification head (and whatever else sits above the encoder, e.g.
BERT's pooler) trains at lr, encoder layer L (0..N-1, as transformers number them from the bottom) at
lr * d^(N - L), and the embeddings at lr * d^(N + 1): the layers nearest the input, which hold the most general features, move
least. Weight decay stays off for biases and LayerNorm weights. Each group records its depth (and whether
it decays) so a resume with new hyperparameters (`callbacks.apply_hyperparameters`: PBT's explore, which
may change d too) gives each group its share of the new lr. With d = 1 the groups are the two of a plain
AdamW, decaying, then not (as in checkpoints from before this option).
"""

from __future__ import annotations

import re

import torch

from workflows.payloads.specs import OptimSpec

LAYER = re.compile(r"\.(?:layer|layers|h|block)\.(\d+)\.")
"""A parameter of encoder layer i (0-based in the name): `bert.encoder.layer.3.attention...`."""
EMBEDDINGS = ("embeddings", "embed_tokens", "wte", "wpe")
"""Name parts of the embedding parameters."""
DEPTH, LAYERS, DECAYS = "depth", "layers", "decays"
"""The keys each parameter group carries besides AdamW's own."""


def layer_depth(name: str, layers: int) -> int:
    """Where a parameter sits: 0 for the embeddings, L + 1 for encoder layer L (0..`layers` - 1), `layers` + 1
    for everything above the encoder (the head)."""
    match = LAYER.search(name)
    if match:
        return int(match.group(1)) + 1
    if any(part in name for part in EMBEDDINGS):
        return 0
    return layers + 1


def lr_scale(depth: int, layers: int, decay: float) -> float:
    """The share of `optim.lr` at `depth` (`layer_depth`): decay^(layers + 1 - depth)."""
    return decay ** (layers + 1 - depth)


def decays(name: str, param: torch.Tensor) -> bool:
    """Weight decay applies to weight matrices, not to biases and LayerNorm weights."""
    return not (param.ndim < 2 or "LayerNorm" in name)


def group_settings(optim: OptimSpec, scale: float, decaying: bool) -> dict:
    """AdamW's settings of one parameter group: the lr scaled, weight decay for the weights that decay."""
    return {"lr": optim.lr * scale, "betas": tuple(optim.betas), "eps": optim.eps,
            "weight_decay": optim.weight_decay if decaying else 0.0}


def parameter_groups(model: torch.nn.Module, optim: OptimSpec) -> list[dict]:
    """AdamW's parameter groups: one per (depth, decays or not), from the head down, when
    `optim.layer_decay` < 1; else two, decaying then not, each at lr."""
    if optim.layer_decay == 1.0:
        split: dict[bool, list[torch.nn.Parameter]] = {True: [], False: []}
        for name, param in model.named_parameters():
            split[decays(name, param)].append(param)
        return [{"params": split[flag], **group_settings(optim, 1.0, flag)} for flag in (True, False)]
    layers = int(getattr(getattr(model, "config", None), "num_hidden_layers", 0) or 0)
    groups: dict[tuple[int, bool], list[torch.nn.Parameter]] = {}
    for name, param in model.named_parameters():
        groups.setdefault((layer_depth(name, layers), decays(name, param)), []).append(param)
    return [{"params": groups[(depth, flag)], DEPTH: depth, LAYERS: layers, DECAYS: flag,
             **group_settings(optim, lr_scale(depth, layers, optim.layer_decay), flag)}
            for depth, flag in sorted(groups, key=lambda key: (-key[0], not key[1]))]


def wanted_settings(group: dict, index: int, optim: OptimSpec) -> dict:
    """The settings `optim` asks of an existing parameter group (restored from a checkpoint): by its
    recorded depth, or, in the two groups of a plain AdamW, by its place (0: decaying, 1: not, at lr)."""
    if DEPTH not in group:
        return group_settings(optim, 1.0, index == 0)
    return group_settings(optim, lr_scale(group[DEPTH], group[LAYERS], optim.layer_decay), group[DECAYS])
