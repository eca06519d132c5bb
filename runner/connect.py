"""Connect to Temporal: the embedded server under the run root, or a configured cluster."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.service import RetryConfig, RPCError, TLSConfig

from runner.embedded_server import EmbeddedServer, EmbeddedServerError
from runner.submit import console
from workflows.payloads.errors import ConfigError

EMBEDDED_RETRY = RetryConfig(max_interval_millis=2000, max_elapsed_time_millis=120_000, max_retries=200)
"""Calls to the embedded server ride out its restart (its keeper restarts it on the same SQLite file within
seconds; the SDK's default gives up after 10 s with `RPCError: tcp connect error`)."""

WATCH_S = 1.0
"""How often a process checks that its embedded server still serves (and has it restarted if not)."""


@dataclass
class Connection:
    client: Client
    server: EmbeddedServer | None

    @property
    def embedded(self) -> bool:
        return self.server is not None


def _pem(key: str, path: str | None) -> bytes | None:
    if not path:
        return None
    file = Path(path).expanduser()
    try:
        data = file.read_bytes()
    except OSError as error:
        raise ConfigError(f"temporal.{key} is '{path}', but it cannot be read: {error.strerror}") from error
    if b"-----BEGIN " not in data:
        raise ConfigError(f"temporal.{key} is '{path}', but it is not a PEM file (no '-----BEGIN' line)")
    return data


def tls_config(temporal: dict[str, Any]) -> TLSConfig | bool:
    """TLS settings from `temporal.tls*` (files read and checked now): False, True (system roots), or a
    TLSConfig with a CA and/or a client certificate and key (mTLS). `temporal.tls` null means on exactly
    when an API key is set (the SDK's own default); an API key is never sent without TLS."""
    has_key = bool(temporal.get("api_key_env") or temporal.get("api_key_file"))
    if temporal.get("tls") is False and has_key:
        raise ConfigError("temporal.tls is false, but an API key is set (temporal.api_key_env/api_key_file) and a "
                          "key is never sent without TLS: drop temporal.tls=false (a key turns TLS on) or the key")
    ca, cert, key = (_pem(k, temporal.get(k)) for k in ("tls_ca_file", "tls_cert_file", "tls_key_file"))
    if bool(cert) != bool(key):
        raise ConfigError("temporal.tls_cert_file and temporal.tls_key_file go together (mTLS), but only "
                          f"{'tls_cert_file' if cert else 'tls_key_file'} is set")
    if not (ca or cert or temporal.get("tls_server_name")):
        return has_key if temporal.get("tls") is None else bool(temporal["tls"])
    return TLSConfig(server_root_ca_cert=ca, client_cert=cert, client_private_key=key,
                     domain=temporal.get("tls_server_name") or None)


def api_key(temporal: dict[str, Any]) -> str | None:
    """The API key from `temporal.api_key_env` (a variable's name) or `temporal.api_key_file` (a path);
    never from the config itself, so it appears in no config dump, memo or log."""
    if temporal.get("api_key_env"):
        value = os.environ.get(temporal["api_key_env"])
        if not value:
            raise ConfigError(f"temporal.api_key_env is '{temporal['api_key_env']}', but that variable is not set")
        return value
    if temporal.get("api_key_file"):
        path = Path(temporal["api_key_file"]).expanduser()
        try:
            value = path.read_text().strip()
        except OSError as error:
            raise ConfigError(f"temporal.api_key_file is '{temporal['api_key_file']}', but it cannot be read: "
                              f"{error.strerror}") from error
        if not value:
            raise ConfigError(f"temporal.api_key_file is '{temporal['api_key_file']}', but it is empty")
        return value
    return None


def check_connection_settings(temporal: dict[str, Any]) -> None:
    """Everything about the connection that can be checked before connecting (files, variables)."""
    if temporal.get("address"):
        tls_config(temporal)
        api_key(temporal)


async def connect_client(address: str, namespace: str, tls: TLSConfig | bool = False, api_key: str | None = None,
                         attempts: int = 20, retry_config: RetryConfig | None = None) -> Client:
    """Client.connect with a short retry while a just-started server comes up."""
    error: Exception | None = None
    for _ in range(attempts):
        try:
            return await Client.connect(address, namespace=namespace, tls=tls, api_key=api_key,
                                        retry_config=retry_config)
        except (RuntimeError, RPCError) as e:  # connection refused while starting
            error = e
            if certificate_refused(str(e)):
                break  # no retry mends a certificate
            await asyncio.sleep(0.5)
    hint = ""
    if certificate_refused(str(error)):
        name = tls.domain if isinstance(tls, TLSConfig) and tls.domain else address.rsplit(":", 1)[0]
        hint = (f" (the server's TLS certificate was refused: it must be signed by the CA of temporal.tls_ca_file "
                f"and be issued for the name '{name}'; set temporal.tls_server_name to the name it carries)")
    raise ConfigError(f"temporal.address is '{address}', but no Temporal server answered there: {error}{hint}")


def certificate_refused(message: str) -> bool:
    """Whether a connection error says the server's certificate did not verify (name or issuer)."""
    return any(mark in message for mark in ("InvalidCertificate", "NotValidForName", "UnknownIssuer",
                                            "certificate verify failed"))


@asynccontextmanager
async def temporal_connection(temporal: dict[str, Any], run_root: str) -> AsyncIterator[Connection]:
    """Yield a connected client; with `temporal.address` null, use (or start) the embedded server of
    `run_root` (`runner.embedded_server`).

    While the context is open the server is watched: restarted on the same SQLite file when it dies; when
    it cannot serve any more the body is cancelled and EmbeddedServerError says why in one line. On close
    this process leaves the server; the last one to leave stops it (its history stays in the SQLite file).
    """
    if temporal.get("address"):
        client = await connect_client(temporal["address"], temporal["namespace"], tls_config(temporal),
                                      api_key(temporal))
        yield Connection(client, None)
        return
    server = await asyncio.to_thread(
        EmbeddedServer.ensure, Path(run_root) / temporal["db_file"], namespace=temporal["namespace"],
        port=temporal["port"], ui_port=temporal["ui_port"], ui=temporal["ui"],
    )
    watch = None
    try:
        client = await connect_client(server.address, temporal["namespace"], retry_config=EMBEDDED_RETRY)
        watch = asyncio.ensure_future(watch_server(server, asyncio.current_task()))
        yield Connection(client, server)
    except asyncio.CancelledError:
        if not server.failure:
            raise
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
        raise EmbeddedServerError(server.failure) from None
    finally:
        if watch is not None:
            watch.cancel()
        await asyncio.to_thread(server.stop)


async def watch_server(server: EmbeddedServer, user: asyncio.Task | None, every_s: float = WATCH_S) -> None:
    """Check the server every `every_s`; when it cannot serve any more, record why and cancel `user`."""
    while True:
        await asyncio.sleep(every_s)
        problem = await asyncio.to_thread(server.check)
        if problem:
            server.failure = problem
            if user is not None:
                user.cancel()
            return


def announce(connection: Connection) -> None:
    """Tell the user where the embedded server is and how to open its Web UI."""
    if connection.server:
        where = "started" if connection.server.started_here else "found"
        ui = f"; Web UI {connection.server.ui_url}" if connection.server.ui_url else ""
        console.print(f"embedded Temporal server {where} at {connection.server.address}{ui}", highlight=False)
