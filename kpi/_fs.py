"""The one atomic file writer: every dataset table, report, manifest and import report goes
through it, so a reader sees the old file or the new one, never half of one.

The new content is written to a temporary file in the target's directory (same file system),
given mode 0644 (``mkstemp`` creates 0600; datasets and reports are shared files), then renamed
over the target. On any failure, including ``KeyboardInterrupt``, the temporary file is removed
and the target is left as it was.

A dataset directory is more than one file (tables, ``dataset.json``, an import's report and
quarantine), and those files must come from the same run. :func:`staged_dir` gives that:

1. the writer takes the directory's lock (``flock`` on the directory itself, so no lock file
   is left behind); a second writer waits;
2. under the lock it first completes what a killed writer left (:func:`recover_dir`: a journal
   is rolled forward; staging directories and ``.*.tmp`` files are removed);
3. every new file is written into a hidden staging directory ``DIR/.kpi-staging-<id>/``;
4. only when all of them are complete (and synced) is a journal ``DIR/.kpi-switch.json``
   written, naming each rename; then the files are renamed into place, ``dataset.json`` last,
   and the journal is removed.

A crash or a full disk before the journal leaves the old files untouched (the staging directory
is removed by the next writer); a crash after it is completed by the next writer or reader
(:func:`settle_dir`). Readers (:func:`kpi.data.load`) never see a switch half done: they wait
for one in progress and check that ``dataset.json`` did not change while they read.

``KPI_TEST_KILL_AT=<step>`` (``staged``, ``switching``, ``switched``) makes the process kill
itself with SIGKILL at that step of a switch. It is a test hook for the crash tests
(``tests/test_import_faults.py``) and does nothing unless set.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import signal
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

try:  # POSIX; elsewhere writers are not serialised (documented in docs/importing.md)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "FILE_MODE",
    "JOURNAL_FILE",
    "STAGING_PREFIX",
    "TMP_SUFFIX",
    "Staging",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "recover_dir",
    "remove_anyway",
    "settle_dir",
    "staged_dir",
    "write_error",
    "write_json",
]

#: Mode of every file the workbench publishes.
FILE_MODE = 0o644
#: Suffix of the temporary files (``.<name>.<random>.tmp``) that a crash may leave behind.
TMP_SUFFIX = ".tmp"


def atomic_write(target: str | os.PathLike[str], write: Callable[[Path], Any]) -> Path:
    """Publish ``target`` by calling ``write(tmp_path)`` and renaming the result over it.

    Parameters
    ----------
    target
        The file to create or replace; its parent directory is created if missing.
    write
        Writes the complete content to the path it is given (e.g. ``frame.write_parquet``).

    Returns
    -------
    Path
        ``target``.

    Raises
    ------
    OSError
        When ``target`` is something a rename must not replace: a directory, a device or a pipe
        (``/dev/stdout``). A symbolic link is kept: the file it points to is replaced.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> d = Path(tempfile.mkdtemp())
    >>> atomic_write(d / "a.txt", lambda p: p.write_text("hello")).read_text()
    'hello'
    >>> oct((d / "a.txt").stat().st_mode & 0o777)
    '0o644'
    >>> def fail(p):
    ...     p.write_text("half")
    ...     raise OSError("disk full")
    >>> atomic_write(d / "a.txt", fail)
    Traceback (most recent call last):
    OSError: disk full
    >>> (d / "a.txt").read_text(), sorted(p.name for p in d.iterdir())
    ('hello', ['a.txt'])
    >>> (d / "link.txt").symlink_to(d / "a.txt")
    >>> _ = atomic_write(d / "link.txt", lambda p: p.write_text("new"))
    >>> (d / "link.txt").is_symlink(), (d / "a.txt").read_text()
    (True, 'new')
    >>> atomic_write("/dev/null", lambda p: p.write_text("x"))
    Traceback (most recent call last):
    OSError: [Errno 22] not a regular file, a rename would replace it: '/dev/null'
    """
    given = Path(target)
    target = Path(os.path.realpath(given))  # a link stays a link: its file is replaced
    if target.exists() and not target.is_file():
        raise OSError(errno.EINVAL, "not a regular file, a rename would replace it", str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=TMP_SUFFIX)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, target)
    except BaseException:
        remove_anyway(Path(tmp))
        raise
    return given


def remove_anyway(path: str | os.PathLike[str]) -> None:
    """Remove a file or a directory tree, even when interrupted meanwhile.

    A second Ctrl-C while cleaning up after the first (polars can hand an interrupt back while
    the signal is still pending) would leave the file behind; the removal is retried and the
    interrupt raised once the path is gone.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> (d / "a").mkdir()
    >>> _ = (d / "a" / "b.txt").write_text("x")
    >>> remove_anyway(d / "a"), remove_anyway(d / "missing"), list(d.iterdir())
    (None, None, [])
    """
    path = Path(path)
    interrupted: KeyboardInterrupt | None = None
    for _ in range(10):
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            break
        except KeyboardInterrupt as exc:
            interrupted = exc
    if interrupted is not None:
        raise interrupted


def atomic_write_text(target: str | os.PathLike[str], text: str) -> Path:
    """Atomically write ``text`` as UTF-8 (newlines as given).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> atomic_write_text(Path(tempfile.mkdtemp()) / "b.txt", "x\\n").read_text()
    'x\\n'
    """
    return atomic_write(target, lambda p: p.write_text(text, encoding="utf-8", newline=""))


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    """Atomically write ``data``."""
    return atomic_write(target, lambda p: p.write_bytes(data))


def write_json(target: str | os.PathLike[str], obj: Any) -> Path:
    """Atomically write ``obj`` as indented JSON (dates and paths as strings), newline-ended.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> write_json(Path(tempfile.mkdtemp()) / "c.json", {"n": 1}).read_text()
    '{\\n  "n": 1\\n}\\n'
    """
    return atomic_write_text(target, json.dumps(obj, indent=2, default=str) + "\n")


# ------------------------------------------------------------ dataset directories: one switch

#: The journal of a switch in progress (its presence means: roll these renames forward).
JOURNAL_FILE = ".kpi-switch.json"
#: Prefix of the hidden staging directories inside a dataset directory.
STAGING_PREFIX = ".kpi-staging-"
_KILL_ENV = "KPI_TEST_KILL_AT"
_IO_ERROR = re.compile(r"(?:IO error: )?(.*?) \(os error (\d+)\)")


def _test_hook(step: str) -> None:
    """Test hook: die by SIGKILL at ``step`` when ``KPI_TEST_KILL_AT`` names it (else nothing)."""
    if os.environ.get(_KILL_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def write_error(exc: BaseException, target: str | os.PathLike[str]) -> OSError:
    """An ``OSError`` naming ``target`` and the reason, from an ``OSError`` or a polars error.

    Polars reports a full disk as ``ComputeError: ... IO error: No space left on device (os
    error 28)``; this recovers the errno and the reason.

    Examples
    --------
    >>> e = write_error(
    ...     RuntimeError("parquet: IO error: No space left on device (os error 28)"), "t"
    ... )
    >>> e.errno, e.strerror, e.filename
    (28, 'No space left on device', 't')
    >>> write_error(PermissionError(13, "Permission denied"), "d/x").strerror
    'Permission denied'
    """
    if isinstance(exc, OSError) and exc.strerror:
        return OSError(exc.errno, exc.strerror, os.fspath(target))
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    found = _IO_ERROR.search(text)
    if found:
        return OSError(int(found.group(2)), found.group(1).split(": ")[-1], os.fspath(target))
    return OSError(0, text[:200], os.fspath(target))


@contextlib.contextmanager
def _dir_lock(root: Path, *, shared: bool = False, wait: bool = True) -> Iterator[bool]:
    """``flock`` the directory itself; yields False if ``wait`` is off and it is taken."""
    if fcntl is None:  # pragma: no cover - Windows
        yield True
        return
    fd = os.open(root, os.O_RDONLY)
    try:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(fd, mode | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        except OSError as exc:  # a file system without locks (some network mounts)
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                raise
        yield True
    finally:
        os.close(fd)  # releases the lock


def _inside(root: Path, rel: str) -> Path:
    path = Path(rel)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise OSError(0, f"journal names a path outside the directory: {rel!r}", str(root))
    return root / path


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _roll_forward(root: Path) -> None:
    """Finish the switch named in the journal (each step is idempotent), then drop it."""
    journal = root / JOURNAL_FILE
    plan = json.loads(journal.read_text(encoding="utf-8"))
    staging = _inside(root, plan["staging"])
    for rel in plan["moves"]:
        src, dst = staging / rel, _inside(root, rel)
        if src.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
    for rel in plan["deletes"]:
        _inside(root, rel).unlink(missing_ok=True)
    _fsync_dir(root)
    journal.unlink()
    _fsync_dir(root)


def recover_dir(root: str | os.PathLike[str]) -> list[str]:
    """Complete an interrupted switch and remove leftovers; call it holding the writer lock.

    Returns
    -------
    list of str
        What was done, for a report (empty when the directory was clean).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / ".contacts.parquet.x1.tmp").write_text("half")
    >>> (d / ".kpi-staging-1").mkdir()
    >>> recover_dir(d), sorted(d.iterdir())
    (['removed 1 unfinished staging director(ies) and 1 temporary file(s)'], [])
    """
    root = Path(root)
    done = []
    if (root / JOURNAL_FILE).exists():
        _roll_forward(root)
        done.append("completed an import that was interrupted while switching its files in")
    stale = [p for p in root.glob(f"{STAGING_PREFIX}*") if p.is_dir()]
    temps = [
        p
        for d in (root, root / "quarantine")
        if d.is_dir()
        for p in d.glob(f".*{TMP_SUFFIX}")
        if p.is_file()
    ]
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    for p in temps:
        p.unlink(missing_ok=True)
    if stale or temps:
        done.append(
            f"removed {len(stale)} unfinished staging director(ies) and {len(temps)} "
            "temporary file(s)"
        )
    return done


def _leftovers(root: Path) -> bool:
    return (root / JOURNAL_FILE).exists() or any(
        p.name.startswith(STAGING_PREFIX) or p.name.endswith(TMP_SUFFIX) for p in root.glob(".*")
    )


def settle_dir(root: str | os.PathLike[str]) -> None:
    """For readers: wait for a switch in progress; complete one a killed writer left, and
    remove its leftovers when no writer is at work (and the reader may write).

    A reader that cannot write the directory and finds an interrupted switch gets an
    ``OSError`` naming the directory.
    """
    root = Path(root)
    for _ in range(1000):
        if not _leftovers(root):
            return
        with _dir_lock(root, wait=False) as mine:
            if mine:  # no writer holds the lock: what is there was left by a dead one
                try:
                    recover_dir(root)
                except PermissionError as exc:
                    if (root / JOURNAL_FILE).exists():
                        raise OSError(
                            exc.errno,
                            "an import was interrupted while switching its files in; run kpi "
                            "import (or open the dataset) as a user who can write it to finish",
                            str(root),
                        ) from None
                return
        if not (root / JOURNAL_FILE).exists():
            return  # a writer is staging: what is there is the previous dataset, whole
        with _dir_lock(root, shared=True):  # a writer is switching: wait for it
            pass
    raise OSError(0, "a switch of dataset files never finished", str(root))  # pragma: no cover


class Staging:
    """New files of a dataset directory, written aside and switched in together.

    Use through :func:`staged_dir`. ``path(name)`` gives the staged path of ``DIR/name``
    (``name`` may have a subdirectory, e.g. ``quarantine/contacts.csv``); ``write(name, fn)``
    calls ``fn`` with it, turning a failure into an ``OSError`` naming ``DIR/name``;
    ``delete(name)`` removes ``DIR/name`` in the same switch.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
        self.dir.mkdir()
        self.moves: list[str] = []
        self.deletes: list[str] = []

    def path(self, name: str) -> Path:
        """The staged location of ``DIR/name`` (recorded for the switch)."""
        _inside(self.root, name)
        if name in self.deletes:
            self.deletes.remove(name)
        if name not in self.moves:
            self.moves.append(name)
        staged = self.dir / name
        staged.parent.mkdir(parents=True, exist_ok=True)
        return staged

    def write(self, name: str, write: Callable[[Path], Any]) -> Path:
        """Write ``DIR/name`` aside with ``write(path)``; errors name the final path."""
        staged = self.path(name)
        try:
            write(staged)
            os.chmod(staged, FILE_MODE)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            raise write_error(exc, self.root / name) from exc
        return staged

    def write_text(self, name: str, text: str) -> Path:
        """Write ``DIR/name`` aside as UTF-8 text."""
        return self.write(name, lambda p: p.write_text(text, encoding="utf-8", newline=""))

    def delete(self, name: str) -> None:
        """Remove ``DIR/name`` (if it exists) in the switch."""
        _inside(self.root, name)
        if name in self.moves:
            self.moves.remove(name)
            (self.dir / name).unlink(missing_ok=True)
        if name not in self.deletes:
            self.deletes.append(name)

    def _check_target(self, name: str) -> None:
        """Refuse, before anything is switched, a rename that would fail: a target that is a
        directory, a parent that cannot be written or is another file system."""
        target = self.root / name
        parent = target.parent
        while not parent.exists():
            parent = parent.parent
        if target.is_dir():
            raise IsADirectoryError(21, "is a directory, not a file", str(target))
        if not parent.is_dir():
            raise NotADirectoryError(20, "is a file, not a directory", str(parent))
        if not os.access(parent, os.W_OK | os.X_OK):
            raise PermissionError(
                13, "cannot write there (permission denied or read-only)", str(parent)
            )
        if parent.stat().st_dev != self.dir.stat().st_dev:
            raise OSError(18, "is on another file system than the dataset directory", str(parent))

    def commit(self) -> None:
        """Sync the staged files, write the journal, rename everything into place (a file
        named ``dataset.json`` last) and drop the journal; :func:`staged_dir` calls it under
        the directory's lock."""
        for name in self.moves:
            with open(self.dir / name, "rb") as fh:
                os.fsync(fh.fileno())
        _fsync_dir(self.dir)
        _test_hook("staged")
        for name in [*self.moves, *self.deletes]:
            self._check_target(name)
        moves = sorted(self.moves, key=lambda n: n == "dataset.json")
        plan = {"staging": self.dir.name, "moves": moves, "deletes": self.deletes}
        try:
            write_json(self.root / JOURNAL_FILE, plan)
        except OSError as exc:
            raise write_error(exc, self.root / JOURNAL_FILE) from exc
        _fsync_dir(self.root)
        for i, name in enumerate(moves):
            dst = self.root / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.dir / name, dst)
            if i == 0:
                _test_hook("switching")
        for name in self.deletes:
            (self.root / name).unlink(missing_ok=True)
        _fsync_dir(self.root)
        _test_hook("switched")
        (self.root / JOURNAL_FILE).unlink()
        _fsync_dir(self.root)
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def staged_dir(root: str | os.PathLike[str]) -> Iterator[Staging]:
    """Write a dataset directory's new files aside and switch them in on success.

    The directory is created if missing and locked for writing (other writers wait; see the
    module docstring). On an exception nothing in the directory changes and the staging
    directory is removed.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> with staged_dir(d) as st:
    ...     _ = st.write_text("a.txt", "new")
    ...     _ = st.write_text("sub/b.txt", "new")
    >>> sorted(str(p.relative_to(d)) for p in d.rglob("*"))
    ['a.txt', 'sub', 'sub/b.txt']
    >>> with staged_dir(d) as st:
    ...     _ = st.write_text("a.txt", "newer")
    ...     raise OSError(28, "No space left on device")
    Traceback (most recent call last):
    OSError: [Errno 28] No space left on device
    >>> (d / "a.txt").read_text(), sorted(p.name for p in d.iterdir())
    ('new', ['a.txt', 'sub'])
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with _dir_lock(root):  # held to the end: other writers wait, readers wait for a switch
        recover_dir(root)
        staging = Staging(root)
        try:
            yield staging
            staging.commit()
        finally:
            shutil.rmtree(staging.dir, ignore_errors=True)
