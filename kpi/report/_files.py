"""Files of the report renderer: the output lock and private work directories.

Every published file is written with :mod:`kpi._fs` (a temporary file in the same directory
renamed over the target), so a reader sees the old file or the new one, never half of one.
Publishing and the index rebuild hold an exclusive lock on ``<out_dir>/.lock``, so
two renders that finish together publish one after the other. A render works in its own
``<out_dir>/.work/<id>/`` directory until it publishes; a render killed before that leaves only
such a directory, which the next render removes once its process is gone, and temporary files
(``.<name>.<random>.tmp``) that only the next holder of the lock may remove.

A stop signal that arrives while a render publishes (inside :func:`publishing`) is handled once
the publish is complete: a stopped render publishes everything or nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from kpi._fs import TMP_SUFFIX
from kpi.errors import KpiError

__all__ = [
    "STOP_SIGNALS",
    "check_out_dir",
    "locked",
    "new_work_dir",
    "pid_alive",
    "publishing",
    "remove_own_work_dirs",
    "remove_stale_tmp_files",
    "remove_stale_work_dirs",
]

WORK = ".work"
LOCK = ".lock"
OWNER = "owner.json"


@contextlib.contextmanager
def locked(out_dir: Path, *, timeout_s: float | None = None) -> Iterator[bool]:
    """Hold the exclusive lock of an output directory (``<out_dir>/.lock``).

    Uses ``fcntl.flock`` where available (Linux, macOS): the lock is released when the process
    ends, however it ends, so a killed render never leaves the directory locked. On systems
    without ``fcntl`` the block runs unlocked (renames stay atomic).

    With ``timeout_s``, waits at most that long and then runs the block unlocked; the value
    of the ``with`` is whether the lock is held.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield False
        return
    with open(out_dir / LOCK, "a+") as handle:
        if timeout_s is None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        yield False
                        return
                    time.sleep(0.05)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


#: The signals a stopped render receives (``kill``, systemd, Ctrl-C).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def publishing() -> Iterator[None]:
    """Publish without being cut short: ``SIGINT`` and ``SIGTERM`` wait for the end.

    In the main thread, the handlers of the stop signals are replaced for the duration by one
    that notes the signal; the first signal noted is raised again once the old handlers are
    back. (Elsewhere Python runs no signal handler, so there is nothing to defer.)

    Examples
    --------
    >>> import signal
    >>> seen = []
    >>> old = signal.signal(signal.SIGTERM, lambda s, f: seen.append(s))
    >>> with publishing():
    ...     signal.raise_signal(signal.SIGTERM)
    ...     print("during:", seen)
    during: []
    >>> seen == [signal.SIGTERM]
    True
    >>> _ = signal.signal(signal.SIGTERM, old)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    old = {
        s: signal.signal(s, lambda signum, _frame: pending.append(signum)) for s in STOP_SIGNALS
    }
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        if pending:
            signal.raise_signal(pending[0])


def check_out_dir(out_dir: str | os.PathLike) -> Path:
    """Create the output directory if needed and prove it writable, or say why not in one line.

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "f"
    >>> _ = f.write_text("")
    >>> check_out_dir(f)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: output directory .../f is a file, not a directory
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise KpiError(f"output directory {out} is a file, not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out, prefix=".probe-", suffix=TMP_SUFFIX)
        os.close(fd)
        Path(probe).unlink(missing_ok=True)  # another run may have swept it already
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        where = f" ({exc.filename})" if exc.filename and Path(exc.filename) != out else ""
        raise KpiError(f"output directory {out} cannot be written: {reason}{where}") from None
    return out


def remove_stale_tmp_files(*dirs: Path) -> list[Path]:
    """Remove the temporary files (``.<name>.<random>.tmp``) a killed writer left in ``dirs``.

    Call it holding the lock: every publishing write happens under it, so a temporary file
    seen then belongs to a writer that is gone.
    """
    removed = []
    for d in dirs:
        for tmp in d.glob(f".*{TMP_SUFFIX}") if d.is_dir() else ():
            with contextlib.suppress(OSError):
                tmp.unlink()
                removed.append(tmp)
    return removed


def _host_tag() -> str:
    """This machine's name, hashed short, for work directories' names."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


#: A work directory's name: its label, then its owner's process id and host tag.
_NAMED = re.compile(r"-(\d+)-h([0-9a-f]{8})-[^-]+$")


def new_work_dir(out_dir: Path, label: str) -> Path:
    """A fresh private directory ``<out_dir>/.work/<label>-<pid>-h<host>-<random>`` for one
    render.

    It records its owner (host and process id) in ``owner.json``, so that a render on another
    machine sharing the directory is never mistaken for a dead one; its name says the same,
    for a render killed between making the directory and writing its owner.
    """
    root = out_dir / WORK
    root.mkdir(parents=True, exist_ok=True)
    prefix = f"{label}-{os.getpid()}-h{_host_tag()}-"
    work = Path(tempfile.mkdtemp(dir=root, prefix=prefix))
    try:
        (work / OWNER).write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))
    except BaseException:  # a full disk: a directory without its owner would stay a day
        shutil.rmtree(work, ignore_errors=True)
        raise
    return work


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and has not ended: a zombie (ended, its status not yet
    read by its parent, which for an orphan is the system's init, sometimes late) can no
    longer write, so its work directory is stale."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # Linux: the state is the first field after the command name's closing parenthesis
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def remove_own_work_dirs(out_dir: Path) -> None:
    """Remove the work directories of this process (a render stopped before it cleaned up)."""
    root, me = out_dir / WORK, os.getpid()
    for d in root.iterdir() if root.is_dir() else ():
        try:
            if int(json.loads((d / OWNER).read_text())["pid"]) != me:
                continue
        except (OSError, ValueError, KeyError, TypeError):
            continue
        shutil.rmtree(d, ignore_errors=True)


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
    now, host, tag = time.time(), socket.gethostname(), _host_tag()
    for d in sorted(root.iterdir()):
        try:
            age = now - d.stat().st_mtime
        except FileNotFoundError:
            continue
        try:
            owner = json.loads((d / OWNER).read_text())
            pid, same_host = int(owner["pid"]), owner.get("host") == host
        except (OSError, ValueError, KeyError, TypeError):
            named = _NAMED.search(d.name)  # killed before its owner was written
            pid, same_host = (int(named[1]), named[2] == tag) if named else (-1, False)
        if same_host and pid == os.getpid():
            continue
        if (same_host and not pid_alive(pid)) or age > max_age_s:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed
