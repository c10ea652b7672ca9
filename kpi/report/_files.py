"""Files of the report renderer: the output lock and private work directories.

Every published file is written with :mod:`kpi._fs` (a temporary file in the same directory
renamed over the target), so a reader sees the old file or the new one, never half of one.
Publishing and the index rebuild hold an exclusive lock on ``<out_dir>/.lock``, so
two renders that finish together publish one after the other. A render works in its own
``<out_dir>/.work/<id>/`` directory until it publishes; a render killed before that leaves only
such a directory, which the next render removes once its process is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "locked",
    "new_work_dir",
    "remove_stale_work_dirs",
]

WORK = ".work"
LOCK = ".lock"
OWNER = "owner.json"


@contextlib.contextmanager
def locked(out_dir: Path) -> Iterator[None]:
    """Hold the exclusive lock of an output directory (``<out_dir>/.lock``).

    Uses ``fcntl.flock`` where available (Linux, macOS): the lock is released when the process
    ends, however it ends, so a killed render never leaves the directory locked. On systems
    without ``fcntl`` the block runs unlocked (renames stay atomic).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(out_dir / LOCK, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def new_work_dir(out_dir: Path, label: str) -> Path:
    """A fresh private directory ``<out_dir>/.work/<label>-<pid>-<random>`` for one render.

    It records its owner (host and process id) in ``owner.json``, so that a render on another
    machine sharing the directory is never mistaken for a dead one.
    """
    root = out_dir / WORK
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=root, prefix=f"{label}-{os.getpid()}-"))
    (work / OWNER).write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))
    return work


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_work_dirs(out_dir: Path, *, max_age_s: float = 86400.0) -> list[Path]:
    """Remove work directories of renders that are gone.

    A directory is stale when its owner ran on this host and that process no longer exists,
    or when it is older than ``max_age_s`` (renders on other hosts, unreadable owners).
    Returns the removed directories.
    """
    root = out_dir / WORK
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    now, host = time.time(), socket.gethostname()
    for d in sorted(root.iterdir()):
        try:
            age = now - d.stat().st_mtime
        except FileNotFoundError:
            continue
        try:
            owner = json.loads((d / OWNER).read_text())
            pid, same_host = int(owner["pid"]), owner.get("host") == host
        except (OSError, ValueError, KeyError, TypeError):
            pid, same_host = -1, False
        if same_host and pid == os.getpid():
            continue
        if (same_host and not _pid_alive(pid)) or age > max_age_s:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed
