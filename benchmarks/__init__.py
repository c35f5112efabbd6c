"""Benchmarks for smsapi_async: the rate limiter and the client's request path.

Run them all with ``python -m benchmarks`` (``--quick`` for a few-second smoke run). Each
benchmark is a plain function that runs its own event loop and returns a :class:`Table`; the
numbers are printed, never asserted, because timing targets depend on the machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Table"]


@dataclass(frozen=True)
class Table:
    """One benchmark's result: a title, column names, and rows of already formatted cells."""

    title: str
    columns: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    note: str = ""

    def column(self, name: str) -> list[str]:
        """The cells of column ``name``, top to bottom."""
        index = self.columns.index(name)
        return [row[index] for row in self.rows]
