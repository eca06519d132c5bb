"""Smoke mode of the GPU benchmark: the same three arms on a tiny BERT on the CPU; no timing asserted."""

import json

import pytest
import torch

from benchmarks import gpu


def test_gpu_benchmark_smoke_runs_all_arms_and_writes_its_report(tmp_path):
    assert gpu.main(["--smoke", "--steps", "8", "--repeats", "1", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "gpu-smoke.json").read_text())
    assert set(report["arms"]) == {"raw", "lightning", "activity"}
    assert all(len(v) == 1 and v[0] > 0 for v in report["arms"].values())
    assert report["ratio"] > 0 and report["device"] == "CPU"
    assert (tmp_path / "gpu-smoke.png").read_bytes()[:4] == b"\x89PNG"


def test_gpu_benchmark_skips_cleanly_without_a_gpu(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert gpu.main(["--out", str(tmp_path)]) == 0
    assert "skipped: no CUDA device" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())
