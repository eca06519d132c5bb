"""Token classification (NER, `task=token_classification`): a list of words per example, one BIO tag per word.

- `intake`: reading the words and tags columns (resolve time and snapshot, one reading);
- `align`: word tags onto sub-tokens (`word_ids()` of a fast tokenizer), the snapshot columns and strata;
- `spans`: entity spans and entity-level precision/recall/F1 (conlleval's rules, via seqeval);
- `validation`: the validation callback logging them during training;
- `predict`: tagging whitespace-split texts and reporting entities with character spans.
"""
