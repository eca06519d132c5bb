"""Connect to Temporal: the embedded server under the run root, or a configured cluster."""

from __future__ import annotations

import asyncio
import os
from contextlib import asynccontextmanager
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError

from activities.errors import ConfigError
from runner.embedded_server import EmbeddedServer


@dataclass
class Connection:
    client: Client
    server: EmbeddedServer | None

    @property
    def embedded(self) -> bool:
        return self.server is not None


async def connect_client(address: str, namespace: str, tls: bool = False, api_key: str | None = None,
                         attempts: int = 20) -> Client:
    """Client.connect with a short retry while a just-started server comes up."""
    error: Exception | None = None
    for _ in range(attempts):
        try:
            return await Client.connect(address, namespace=namespace, tls=tls, api_key=api_key)
        except (RuntimeError, RPCError) as e:  # connection refused while starting
            error = e
            await asyncio.sleep(0.5)
    raise ConfigError(f"temporal.address is '{address}', but no Temporal server answered there: {error}")


@asynccontextmanager
async def temporal_connection(temporal: dict[str, Any], run_root: str) -> AsyncIterator[Connection]:
    """Yield a connected client; with `temporal.address` null, run (or find) the embedded server.

    A server started here is stopped when the context closes; its history stays in the SQLite file.
    """
    api_key = None
    if temporal.get("api_key_env"):
        api_key = os.environ.get(temporal["api_key_env"])
        if not api_key:
            raise ConfigError(f"temporal.api_key_env is '{temporal['api_key_env']}', but that variable is not set")
    if temporal.get("address"):
        client = await connect_client(temporal["address"], temporal["namespace"], temporal["tls"], api_key)
        yield Connection(client, None)
        return
    server = EmbeddedServer.ensure(
        Path(run_root) / temporal["db_file"], namespace=temporal["namespace"], port=temporal["port"],
        ui_port=temporal["ui_port"], ui=temporal["ui"],
    )
    try:
        client = await connect_client(server.address, temporal["namespace"])
        yield Connection(client, server)
    finally:
        server.stop()


def announce(connection: Connection) -> None:
    """Tell the user where the embedded server is and how to open its Web UI."""
    from runner.submit import console

    if connection.server:
        where = "started" if connection.server.started_here else "found"
        ui = f"; Web UI {connection.server.ui_url}" if connection.server.ui_url else ""
        console.print(f"embedded Temporal server {where} at {connection.server.address}{ui}", highlight=False)
