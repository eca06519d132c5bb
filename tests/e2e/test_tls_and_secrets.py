"""Remote cluster over mTLS with an API key: the runner and a `train-tune worker` connect through a TLS
proxy that demands a client certificate; the API key (planted, read from an environment variable) never
appears in any output: stdout/stderr, `--cfg job`, Hydra's output folder, the workflow's memo or its
history, the worker's log."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_cli import train_tune
from tests.e2e.tls_proxy import TLSProxy, make_certs

SECRET = "tt-PLANTED-secret-7f3a91c2"


@pytest.mark.e2e
async def test_mtls_and_api_key_run_and_the_key_is_in_no_output(temporal_env, tmp_path, queues):
    certs = make_certs(tmp_path / "certs")
    upstream = int(temporal_env.client.service_client.config.target_host.rsplit(":", 1)[1])
    env = {**os.environ, "TT_API_KEY": SECRET}
    with TLSProxy(certs, upstream) as proxy:
        shared = [
            "temporal=remote", f"temporal.address=127.0.0.1:{proxy.port}", "temporal.tls=true",
            f"temporal.tls_ca_file={certs['ca.pem']}", f"temporal.tls_cert_file={certs['client.pem']}",
            f"temporal.tls_key_file={certs['client.key']}", "temporal.tls_server_name=localhost",
            "temporal.api_key_env=TT_API_KEY", f"temporal.training_queue={queues.training}",
            f"temporal.orchestration_queue={queues.orchestration}", f"run_root={tmp_path / 'shared'}",
        ]
        worker_log = tmp_path / "worker.log"
        worker = subprocess.Popen(["train-tune", "worker", "queue=all", *shared], cwd=tmp_path, env=env,
                                  stdout=worker_log.open("w"), stderr=subprocess.STDOUT)
        try:
            run = ["experiment_name=tls_run", "model=bert_tiny", "dataset.max_samples=200", "dataset.max_length=64",
                   "trainer.max_steps=10", "trainer.checkpoint_every_n_steps=10", "trainer.val_every_n_steps=10"]
            done = train_tune(*shared, *run, cwd=tmp_path, timeout=300, env=env)
            cfg = train_tune(*shared, *run, "--cfg", "job", cwd=tmp_path, timeout=120, env=env)
            # without the client certificate the proxy refuses the connection: the runner says so and stops
            no_cert = [o for o in shared if "tls_cert_file" not in o and "tls_key_file" not in o]
            refused = train_tune(*no_cert, *run, cwd=tmp_path, timeout=180, env=env)
            # a server certificate that does not carry the name the client expects is refused, and said so
            wrong_name = [o if "tls_server_name" not in o else "temporal.tls_server_name=wrong.example.org"
                          for o in shared]
            misnamed = train_tune(*wrong_name, *run, cwd=tmp_path, timeout=180, env=env)
        finally:
            worker.terminate()
            worker.wait(60)
        assert proxy.handshakes >= 2
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:] + worker_log.read_text()[-3000:]
    assert "completed" in output and "test metrics" in output
    assert refused.returncode != 0 and "no Temporal server answered" in refused.stdout + refused.stderr
    said = misnamed.stdout + misnamed.stderr
    assert misnamed.returncode != 0 and "TLS certificate was refused" in said and "'wrong.example.org'" in said, said

    workflow_id = next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("workflow "))
    handle = temporal_env.client.get_workflow_handle(workflow_id)
    memo = await (await handle.describe()).memo()
    history = (await handle.fetch_history()).to_json()
    texts = {"stdout": output, "--cfg job": cfg.stdout + cfg.stderr, "worker log": worker_log.read_text(),
             "memo": repr(memo), "history": history, "refused": refused.stdout + refused.stderr, "misnamed": said}
    for path in Path(tmp_path).rglob("*"):
        if path.is_file() and path.suffix in (".json", ".yaml", ".log", ".csv", ".txt"):
            texts[str(path)] = path.read_text(errors="replace")
    assert "api_key_env: TT_API_KEY" in texts["--cfg job"]  # the variable's name is shown, never its value
    leaked = [where for where, text in texts.items() if SECRET in text]
    assert not leaked, leaked
