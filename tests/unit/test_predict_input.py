"""`train-tune predict`'s texts and outputs: csv/jsonl/txt read with their line numbers in errors, and
bad input refused in one line before any model or server is touched."""

from __future__ import annotations

import argparse
import asyncio
import json

import pytest

from runner.export import NotFound, predict_command, read_text_file, write_predictions
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import Prediction

EMBEDDED = {"address": None, "db_file": "temporal.sqlite"}


def predict(tmp_path, source: str = "some-run", **options):
    args = argparse.Namespace(workflow_id=source, text=[], file=None, column="text", out=None, batch_size=32)
    for key, value in options.items():
        setattr(args, key, value)
    return asyncio.run(predict_command(args, {"temporal": EMBEDDED}, str(tmp_path / "runs")))


def test_csv_keeps_quoted_newlines_and_names_the_missing_column(tmp_path):
    path = tmp_path / "texts.csv"
    path.write_text('\ufeffbody,id\n"first line\nsecond line",1\nplain,2\n')
    assert read_text_file(path, "body") == ["first line\nsecond line", "plain"]
    with pytest.raises(ConfigError, match=r"--column is 'text', but .*texts.csv has columns: body, id"):
        read_text_file(path, "text")
    path.write_text('body\n"a"\n""\n')
    with pytest.raises(ConfigError, match=r"texts.csv line 3: column 'body' is '', but must be a non-empty text"):
        read_text_file(path, "body")


def test_jsonl_names_the_bad_line(tmp_path):
    path = tmp_path / "texts.jsonl"
    path.write_text('{"text": "ok"}\n\n{"text": broken}\n')
    with pytest.raises(ConfigError, match=r"texts.jsonl line 3 is not JSON"):
        read_text_file(path, "text")
    path.write_text('{"text": "ok"}\n{"body": "x"}\n')
    with pytest.raises(ConfigError, match=r"--column is 'text', but .*texts.jsonl line 2 has: body"):
        read_text_file(path, "text")
    path.write_text('{"text": "ok"}\n{"text": null}\n')
    with pytest.raises(ConfigError, match=r"line 2: column 'text' is None"):
        read_text_file(path, "text")


def test_txt_is_a_text_per_non_blank_line_and_other_files_are_refused(tmp_path):
    (tmp_path / "texts.txt").write_text("one\n\n  two  \n")
    assert read_text_file(tmp_path / "texts.txt", "text") == ["one", "two"]
    with pytest.raises(ConfigError, match=r"must end in .csv, .jsonl, .txt"):
        read_text_file(tmp_path / "texts.xlsx", "text")
    with pytest.raises(NotFound, match=r"no such file exists"):
        read_text_file(tmp_path / "missing.csv", "text")


@pytest.mark.parametrize("options, error, expected", [
    ({}, ConfigError, "predict needs texts: --text TEXT (repeatable) or --file"),
    ({"text": ["a"], "out": "preds.txt"}, ConfigError, "--out is 'preds.txt', but must end in .csv or .jsonl"),
    ({"text": ["a"], "batch_size": 0}, ConfigError, "--batch-size is 0, but must be >= 1"),
    ({"text": ["a"], "out": "."}, ConfigError, "--out is '.', but must end in .csv or .jsonl"),
    ({"text": ["a"]}, NotFound, "no run 'some-run'"),
])
def test_bad_predict_input_is_refused_before_any_model_or_server(tmp_path, options, error, expected):
    with pytest.raises(error) as raised:
        predict(tmp_path, **options)
    assert expected in str(raised.value) and "\n" not in str(raised.value)
    assert not (tmp_path / "runs").exists()


def test_a_folder_that_is_not_a_model_folder(tmp_path):
    (tmp_path / "not-a-model").mkdir()
    with pytest.raises(NotFound, match="folder without config.json"):
        predict(tmp_path, str(tmp_path / "not-a-model"), text=["a"])
    with pytest.raises(NotFound, match="no model folder './gone'"):
        predict(tmp_path, "./gone", text=["a"])


def test_predictions_are_written_as_csv_or_jsonl(tmp_path):
    rows = [Prediction("a, \"quoted\"\ntext", "pos", 0.91234567), Prediction("b", "neg", 0.5)]
    write_predictions(tmp_path / "p.csv", rows)
    assert (tmp_path / "p.csv").read_text().splitlines()[0] == "text,label,score"
    import csv

    assert [tuple(r.values()) for r in csv.DictReader((tmp_path / "p.csv").open())] == [
        ("a, \"quoted\"\ntext", "pos", "0.912346"), ("b", "neg", "0.5")]
    write_predictions(tmp_path / "out" / "p.jsonl", rows)
    lines = (tmp_path / "out" / "p.jsonl").read_text().splitlines()
    assert json.loads(lines[0]) == {"text": "a, \"quoted\"\ntext", "label": "pos", "score": 0.912346}


def test_export_and_predict_are_registered_commands():
    from runner.commands import COMMANDS, USAGE, parse

    assert {"export", "predict"} <= set(COMMANDS)
    assert "train-tune export  RUN_ID --out DIR" in USAGE and "train-tune predict RUN_ID|DIR" in USAGE
    args = parse("predict", ["run-1", "--text", "a", "run_root=/x", "--text", "b", "--batch-size", "4"])
    assert args.text == ["a", "b"] and args.overrides == ["run_root=/x"] and args.batch_size == 4
    assert parse("export", ["run-1", "--out", "dir"]).out == "dir"


def test_token_classification_predictions_carry_their_entities(tmp_path):
    import csv

    found = [{"type": "PER", "text": "Alice", "start": 0, "end": 5, "score": 0.9}]
    rows = [Prediction("Alice, hi", 'PER "Alice" [0:5]', 0.95, found), Prediction("hi", "no entities", 0.99)]
    write_predictions(tmp_path / "p.jsonl", rows, entities=True)
    lines = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert lines[0]["entities"] == found and lines[1]["entities"] == [] and lines[1]["label"] == "no entities"
    write_predictions(tmp_path / "p.csv", rows, entities=True)
    read = list(csv.DictReader((tmp_path / "p.csv").open(newline="")))
    assert [json.loads(r["entities"]) for r in read] == [found, []] and read[0]["text"] == "Alice, hi"


def test_an_out_path_that_is_a_folder_is_refused_before_any_model_or_server(tmp_path):
    (tmp_path / "preds.jsonl").mkdir()
    with pytest.raises(ConfigError, match=r"--out is '.*preds.jsonl', but that is a folder: give a file path"):
        predict(tmp_path, text=["a"], out=str(tmp_path / "preds.jsonl"))
    assert not (tmp_path / "runs").exists()
