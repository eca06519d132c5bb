"""Who a process is, from /proc (Linux): the proof that the embedded server on a port is the one serving
a given SQLite file, which neither a copied state file nor a port that some other process now holds can fake.

A server is proven ours when its process is alive (not a zombie), belongs to this user, was started with
`--db-filename DB --port PORT`, and itself holds the socket listening on that port.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie, which `kill(pid, 0)` still reaches, is not)."""
    if pid <= 0:
        return False
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def owned(pid: int) -> bool:
    """Whether `pid` belongs to this user."""
    try:
        return (PROC / str(pid)).stat().st_uid == os.getuid()
    except OSError:
        return False


def command_line(pid: int) -> list[str]:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _has_option(argv: list[str], name: str, value: str) -> bool:
    return any(a == name and b == value for a, b in zip(argv, argv[1:], strict=False)) or f"{name}={value}" in argv


def _socket_inodes(pid: int) -> set[str]:
    inodes: set[str] = set()
    try:
        fds = os.listdir(PROC / str(pid) / "fd")
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(PROC / str(pid) / "fd" / fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the TCP sockets listening on `port` (any address, IPv4 or IPv6)."""
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def listens(pid: int, port: int) -> bool:
    """Whether process `pid` itself holds a socket listening on `port`."""
    return bool(_socket_inodes(pid) & _listening_inodes(port))


def serves(pid: int, port: int, db_file: str) -> bool:
    """Whether `pid` is this user's Temporal dev server for `db_file`, listening on `port`."""
    if not (running(pid) and owned(pid)):
        return False
    argv = command_line(pid)
    return (_has_option(argv, "--db-filename", db_file) and _has_option(argv, "--port", str(port))
            and listens(pid, port))


def keeps(pid: int, db_file: str) -> bool:
    """Whether `pid` is this user's live server keeper (`runner.server_keeper`) for `db_file`."""
    if not (running(pid) and owned(pid)):
        return False
    argv = command_line(pid)
    return "runner.server_keeper" in argv and db_file in argv
