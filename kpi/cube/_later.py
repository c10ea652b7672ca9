"""Work run in a thread beside other work: the cube build's customer counts beside its chunks,
each chunk's queue sweep beside its groupings (numpy and polars release the interpreter's
lock, so the two use both cores)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Later", "timed"]

_T = TypeVar("_T")


def timed(report: Callable[[str], None], what: str, make: Callable[[], _T]) -> _T:
    """``make()``, then ``report`` says ``what`` took how long.

    Examples
    --------
    >>> said = []
    >>> timed(said.append, "counted", lambda: 42), said[0].startswith("counted in ")
    (42, True)
    """
    began = time.perf_counter()
    out = make()
    report(f"{what} in {time.perf_counter() - began:.1f} s")
    return out


class Later(Generic[_T]):
    """``make()``, run in a daemon thread when ``background`` (a stopped build does not wait
    for it), else at once; :meth:`result` waits for it and returns its value or raises the
    thread's error.

    Examples
    --------
    >>> Later(lambda: 6 * 7, background=True).result()
    42
    """

    def __init__(self, make: Callable[[], _T], *, background: bool) -> None:
        self._value: _T | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._run, args=(make,), daemon=True)
            self._thread.start()
        else:
            self._value = make()

    def _run(self, make: Callable[[], _T]) -> None:
        try:
            self._value = make()
        except BaseException as exc:  # handed to whoever asks for the result
            self._error = exc

    def result(self) -> _T:
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]
