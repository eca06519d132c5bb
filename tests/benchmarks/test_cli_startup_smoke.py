"""Smoke mode of the CLI start-up benchmark: every arm runs once (the `results` arm against a real local
server, exiting 3: not found) and the table has its ratios. No timing asserted."""

import json

from benchmarks import cli_startup


def test_cli_startup_smoke_times_every_command_beside_its_peer(tmp_path, capsys):
    assert cli_startup.main(["--smoke", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "load average (1 min)" in printed and "/ import hydra" in printed
    figures = json.loads((tmp_path / "cli-startup-smoke.json").read_text())
    rows = {row["arm"]: row for row in figures["rows"]}
    assert {"import hydra", "import temporalio.client", "train-tune --help", "complete 'train-tune model='",
            "train-tune --cfg job", "train-tune status --help", "train-tune results NO-SUCH-ID"} <= set(rows)
    assert all(row["repeats"] == 1 and row["median_s"] > 0 and row["over_peer"] > 0 for row in rows.values())
    assert rows["import hydra"]["over_peer"] == 1.0
    for arm in ("train-tune --help", "train-tune results NO-SUCH-ID"):
        assert f"{arm:32s}" in printed
