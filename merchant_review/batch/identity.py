"""Who holds a claim: a process identity, and whether that process is known to be gone.

A claimer is `HOST/PIDNS/PID/NONCE`. On the machine (and PID namespace) it names, a
process that no longer runs (or is a zombie) is certainly gone, so its claims can be
taken over at once; anywhere else only the lease's expiry says so. A PID reused by an
unrelated process only makes a dead claimer look alive: its items then wait for the lease.
"""

from __future__ import annotations

import os
import socket
import uuid
from functools import cache
from pathlib import Path


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid").removeprefix("pid:").strip("[]")
    except OSError:
        return "-"


def _here() -> tuple[str, str]:
    return socket.gethostname(), _pid_namespace()


@cache
def _nonce() -> tuple[int, str]:
    return os.getpid(), uuid.uuid4().hex[:8]


def claimer_id() -> str:
    """This process's identity (a fresh nonce after a fork)."""
    pid, nonce = _nonce()
    if pid != os.getpid():
        _nonce.cache_clear()
        pid, nonce = _nonce()
    host, namespace = _here()
    return f"{host}/{namespace}/{pid}/{nonce}"


def _running(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    if stat.parent.parent.is_dir() and Path("/proc/self/stat").exists():
        try:
            state = stat.read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state not in {"Z", "X", "x"}
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def known_dead(claimer: str) -> bool:
    """Whether `claimer` is a process of this machine that is no longer running."""
    parts = claimer.split("/")
    if len(parts) != 4 or not parts[2].isdigit():
        return False
    if (parts[0], parts[1]) != _here():
        return False
    return not _running(int(parts[2]))
