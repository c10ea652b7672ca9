"""A chunked result on disk: each chunk's rows written as it is computed, read back in the
whole result's order a batch at a time, so no step holds the whole result."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import polars as pl

__all__ = ["Spill"]

#: Rows held at once by the readers of all parts together (a row group each).
HELD_ROWS = 1 << 19


class Spill:
    """Chunk results written to Parquet files in ``directory``, read back merged.

    The chunks partition time: each holds whole bins, later than the chunk before. Each part
    is sorted by ``by`` then ``period``, so the whole result, sorted the same way, is for each
    group (``by`` values, in sort order) that group's rows in part 1, then in part 2, and so
    on. Each part is therefore read front to back, one row group at a time.

    Parameters
    ----------
    by
        The group columns (the sort keys before ``period``).
    directory
        An empty directory the caller owns (and removes).
    parts
        How many parts will be added: each part's row groups are
        ``HELD_ROWS / parts`` rows (at least 4,096), which bounds the rows held while merging.

    Examples
    --------
    >>> import tempfile
    >>> spill = Spill(["team"], Path(tempfile.mkdtemp()), parts=2)
    >>> spill.add(pl.DataFrame({"team": ["A", "B"], "period": [1, 1], "n": [1.0, 2.5]}))
    >>> spill.add(pl.DataFrame({"team": ["A", "C"], "period": [2, 2], "n": [3.0, 4.0]}))
    >>> pl.concat(spill.batches()).rows()
    [('A', 1, 1.0), ('A', 2, 3.0), ('B', 1, 2.5), ('C', 2, 4.0)]
    >>> spill.height, spill.whole(["n"])
    (4, [])
    """

    def __init__(self, by: Iterable[str], directory: Path, *, parts: int) -> None:
        self.by = list(by)
        self.directory = Path(directory)
        self.height = 0
        self._row_group = max(4096, HELD_ROWS // max(parts, 1))
        self._files: list[Path] = []
        self._runs: list[pl.DataFrame] = []
        self._fractional: set[str] = set()

    def add(self, part: pl.DataFrame) -> None:
        """Write the next chunk's rows (sorted by ``by`` then ``period``, as chunks are)."""
        index = len(self._files)
        path = self.directory / f"part-{index:05d}.parquet"
        part.write_parquet(path, row_group_size=self._row_group, statistics=False)
        self._files.append(path)
        self.height += part.height
        for name, dtype in part.schema.items():
            if dtype.is_float() and name not in self._fractional:
                values = part[name].drop_nulls()
                if not bool((values % 1 == 0).all()):
                    self._fractional.add(name)
        if self.by:
            runs = part.group_by(self.by, maintain_order=True).len("_len")
        else:
            runs = pl.DataFrame({"_len": [part.height]}, schema={"_len": pl.UInt32})
        self._runs.append(runs.with_columns(pl.lit(index, pl.UInt32).alias("_part")))

    def whole(self, columns: Iterable[str]) -> list[str]:
        """Those of ``columns`` whose values, nulls aside, are all whole numbers."""
        return [c for c in columns if c not in self._fractional]

    def batches(self, *, rows: int = 1 << 18) -> Iterator[pl.DataFrame]:
        """The whole result in order (``by`` then ``period``), in frames of about ``rows``
        (at least one frame, empty when no chunk has rows)."""
        if not self._files:
            return
        runs = pl.concat(self._runs, how="vertical_relaxed")
        if self.by:
            runs = runs.sort([*self.by, "_part"], nulls_last=True, maintain_order=True)
        readers = [_Reader(p, self._row_group) for p in self._files]
        held: list[pl.DataFrame] = []
        count = 0
        given = False
        for part, length in runs.select("_part", "_len").iter_rows():
            for piece in readers[part].take(length):
                held.append(piece)
                count += piece.height
            if count >= rows:
                yield pl.concat(held, rechunk=True)
                held, count, given = [], 0, True
        if held:
            yield pl.concat(held, rechunk=True)
        elif not given:
            yield pl.scan_parquet(self._files[0]).head(0).collect()


class _Reader:
    """One part read front to back, a row group at a time."""

    def __init__(self, path: Path, row_group: int) -> None:
        self.path = path
        self.row_group = row_group
        self.buffer: pl.DataFrame | None = None
        self.at = 0  # rows of the file before ``buffer`` (whole row groups)
        self.used = 0  # rows of ``buffer`` taken

    def take(self, n: int) -> Iterator[pl.DataFrame]:
        while n > 0:
            if self.buffer is None or self.used == self.buffer.height:
                self._next()
            assert self.buffer is not None
            piece = self.buffer.slice(self.used, n)
            if piece.height == 0:  # the file ended early: the runs and the file disagree
                raise RuntimeError(f"{self.path} ended {n} rows early")
            self.used += piece.height
            n -= piece.height
            yield piece

    def _next(self) -> None:
        if self.buffer is not None:
            self.at += self.buffer.height
        self.buffer = pl.scan_parquet(self.path).slice(self.at, self.row_group).collect()
        self.used = 0
