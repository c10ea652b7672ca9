"""The one atomic file writer: every dataset table, report, manifest and import report goes
through it, so a reader sees the old file or the new one, never half of one.

The new content is written to a temporary file in the target's directory (same file system),
given mode 0644 (``mkstemp`` creates 0600; datasets and reports are shared files), then renamed
over the target. On any failure, including ``KeyboardInterrupt``, the temporary file is removed
and the target is left as it was.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "FILE_MODE",
    "TMP_SUFFIX",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
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
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=TMP_SUFFIX)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


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
