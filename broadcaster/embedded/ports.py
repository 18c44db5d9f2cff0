"""The ports ``broadcaster up`` listens on: a taken one is refused in one line that names the setting to change.

A second system (``broadcaster demo`` in another folder, say) would otherwise start and
collide with the first, and the only trace would be a worker exiting with status 1. When
the holder can be found (Linux: /proc, for this user's processes), the message says which
process, and which Broadcaster system, holds the port.
"""

import errno
import os
import socket
from pathlib import Path

WORKER_WEB_PORT_SETTING = "BROADCASTER_WORKER_WEB_PORT"
BROKER_PORT_SETTING = "BROADCASTER_EMBEDDED_BROKER_PORT"
INTAKE_PORT_SETTING = "BROADCASTER_INTAKE_PORT"
_LISTEN = "0A"  # the TCP state LISTEN in /proc/net/tcp


class PortInUse(RuntimeError):
    pass


def ensure_free(host: str, port: int, setting: str) -> None:
    """Raise PortInUse, naming ``setting``, unless something could listen on ``host:port`` right now."""
    family, kind, _, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    with socket.socket(family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the worker and the broker bind
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            raise PortInUse(in_use_message(port, setting)) from None


def in_use_message(port: int, setting: str) -> str:
    holder = port_holder(port)
    by = f" by {holder}" if holder else ""
    return f"port {port} is already in use{by}: stop it or set {setting} to a free port"


def port_holder(port: int) -> str | None:
    """Who listens on ``port``: a Broadcaster system and its folder, else a pid and command; None if unknown."""
    inodes = _listening_sockets(port)
    if not inodes:
        return None
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and inodes & _open_sockets(entry):
            return _describe(int(entry.name))
    return None


def _listening_sockets(port: int) -> set[str]:
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == _LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                found.add(f"socket:[{fields[9]}]")
    return found


def _open_sockets(process: Path) -> set[str]:
    try:
        descriptors = list((process / "fd").iterdir())
    except OSError:  # another user's process, or gone
        return set()
    links = set()
    for descriptor in descriptors:
        try:
            links.add(os.readlink(descriptor))
        except OSError:
            continue
    return links


def _describe(pid: int) -> str:
    """The Broadcaster command that owns ``pid`` (itself or its parent), or the bare process."""
    parent = _parent(pid)
    for candidate in (parent, pid) if parent else (pid,):
        command = _broadcaster_command(candidate)
        if command:
            return f"the Broadcaster system running from {_cwd(candidate)} (`{command}`, pid {candidate})"
    argv = _argv(pid)
    return f"pid {pid} ({' '.join(Path(arg).name for arg in argv[:4]) or 'unknown'}), running from {_cwd(pid)}"


def _argv(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def _broadcaster_command(pid: int) -> str | None:
    argv = _argv(pid)
    names = [Path(arg).name for arg in argv]
    if "broadcaster" not in names:
        return None
    return " ".join(["broadcaster", *argv[names.index("broadcaster") + 1:]])


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # after the command name, which may hold spaces: state, ppid


def _cwd(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return "an unknown folder"
