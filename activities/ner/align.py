"""Word tags onto sub-tokens: the snapshot columns of a token-classification split.

A fast tokenizer splits the words of a row (`is_split_into_words=True`) into sub-tokens and says which
word each came from (`word_ids()`: None for [CLS], [SEP]). The first sub-token of each word carries the
word's tag; the word's other sub-tokens and the special tokens get -100, which the loss and the metrics
leave out. With `task.label_all_tokens` every sub-token of a word carries a tag: the first the word's, the
others its continuation (the I- tag of a B- tag, where the label set has it, so a split word stays one
entity; any other tag unchanged), as transformers' run_ner example does.

Rows longer than `dataset.max_length` sub-tokens are cut: their last words get no sub-token and so no tag
(counted, per split, in `DatasetSnapshot.truncated_words` and the worker log).

`strata` gives what carved validation/test splits are stratified by: each row's most frequent entity type
(ties: the type first in alphabetical order), or O for a row without entities, so every split holds every
entity type in proportion where the rows allow.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from activities.ner.spans import IGNORED, entities
from workflows.payloads.errors import ConfigError
from workflows.payloads.specs import DatasetSpec

TRUNCATED = "truncated_words"
"""Key of `encode_tagged`'s per-row count of words left without a sub-token (not a stored column)."""


def continuations(names: list[str]) -> list[int]:
    """For each tag index, the tag index its word's later sub-tokens get under label_all_tokens."""
    index = {name: i for i, name in enumerate(names)}
    return [index.get("I-" + name[2:], i) if name.startswith("B-") else i for i, name in enumerate(names)]


def align(word_ids: list[int | None], tags: list[int], label_all_tokens: bool, follow: list[int]) -> list[int]:
    """The label of each sub-token: its word's tag on the word's first sub-token; on later sub-tokens -100
    or (`label_all_tokens`) the tag's continuation `follow[tag]`; -100 on special tokens."""
    labels = []
    previous = None
    for word in word_ids:
        if word is None:
            labels.append(IGNORED)
        elif word != previous:
            labels.append(tags[word])
        else:
            labels.append(follow[tags[word]] if label_all_tokens else IGNORED)
        previous = word
    return labels


def encode_tagged(tokenizer: Any, words: list[list[str]], tags: list[list[str]], spec: DatasetSpec,
                  index: dict[str, int]) -> dict[str, list]:
    """`input_ids` and `labels` (one per sub-token) of a chunk of rows, and `TRUNCATED` per row."""
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError("model.tokenizer is a slow (Python) tokenizer, but task token_classification needs a fast "
                          "one (its word_ids() map sub-tokens to words): use a tokenizer folder with tokenizer.json")
    encoded = tokenizer(words, is_split_into_words=True, truncation=True, max_length=spec.max_length)
    names = sorted(index, key=index.__getitem__)
    follow = continuations(names)
    labels, truncated = [], []
    for row, row_tags in enumerate(tags):
        word_ids = encoded.word_ids(row)
        labels.append(align(word_ids, [index[t] for t in row_tags], spec.task.label_all_tokens, follow))
        truncated.append(len(row_tags) - len({w for w in word_ids if w is not None}))
    return {"input_ids": encoded["input_ids"], "labels": labels, TRUNCATED: truncated}


def strata(tag_lists: list[list[str]]) -> list[str]:
    """Each row's most frequent entity type (ties: alphabetical), or O without entities."""
    out = []
    for tags in tag_lists:
        counts = Counter(kind for kind, _, _ in entities(tags))
        out.append(min(counts, key=lambda kind: (-counts[kind], kind)) if counts else "O")
    return out
