"""Tag new texts with a token classifier and report their entities with character spans.

A text is split into words at whitespace (each word keeps its character offsets); the words are encoded
as the training rows were (`is_split_into_words=True`, truncated at the model's max length) and each word
gets the tag of its first sub-token (words past the cut get O). Entities are read from the word tags by
the rules of `activities.ner.spans`; each spans from its first word's first character to its last word's
last, and scores the mean probability of its words' tags. A prediction's `label` lists the entities as
`TYPE "text" [start:end]` (end exclusive; "no entities" when there are none) and its `score` is the mean
probability of all its words' tags.
"""

from __future__ import annotations

import re
from typing import Any

from activities.ner.spans import entities
from workflows.payloads.messages import Prediction

WORD = re.compile(r"\S+")
NONE = "no entities"


def describe(found: list[dict[str, Any]]) -> str:
    """The entities as one line: `PER "John Smith" [0:10]; LOC "Paris" [20:25]`."""
    return "; ".join(f'{e["type"]} "{e["text"]}" [{e["start"]}:{e["end"]}]' for e in found) or NONE


def _prediction(text: str, spans: list[tuple[int, int]], tags: list[str], probabilities: list[float]) -> Prediction:
    found = []
    for kind, first, last in entities(tags):
        start, end = spans[first][0], spans[last][1]
        found.append({"type": kind, "text": text[start:end], "start": start, "end": end,
                      "score": round(sum(probabilities[first:last + 1]) / (last - first + 1), 6)})
    score = sum(probabilities) / len(probabilities) if probabilities else 1.0
    return Prediction(text=text, label=describe(found), score=score, entities=found)


def tag_texts(model: Any, tokenizer: Any, names: list[str], max_length: int, device: Any, texts: list[str],
              batch_size: int = 32) -> list[Prediction]:
    """One Prediction per text, in order, `batch_size` texts per forward pass."""
    import torch  # torch loads only when a model does: the command line imports this module

    out = []
    with torch.inference_mode():
        for begin in range(0, len(texts), batch_size):
            chunk = texts[begin:begin + batch_size]
            spans = [[m.span() for m in WORD.finditer(text)] for text in chunk]
            words = [[text[a:b] for a, b in row] or [""] for text, row in zip(chunk, spans, strict=True)]
            encoded = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length,
                                padding=True, return_tensors="pt")
            inputs = {k: v.to(device) for k, v in encoded.items()}
            best = model(**inputs).logits.float().softmax(-1).max(-1)
            for row, (text, row_spans) in enumerate(zip(chunk, spans, strict=True)):
                tags, probabilities = ["O"] * len(row_spans), [1.0] * len(row_spans)
                previous = None
                for position, word in enumerate(encoded.word_ids(row)):
                    if word is not None and word != previous and word < len(row_spans):
                        tags[word] = names[int(best.indices[row, position])]
                        probabilities[word] = float(best.values[row, position])
                    previous = word
                out.append(_prediction(text, row_spans, tags, probabilities))
    return out
