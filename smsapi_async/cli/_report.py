"""What ``smsapi bulk`` tells people: one line per distinct problem, and a report file in row order.

A run of 100 000 rows with a message one part too long used to print 99 990 identical lines; here
each distinct reason is one line, with its count and the first line numbers. The ``--report`` file
lists every recipient in the order of the input, whatever order the calls finished in, holding
at most one chunk of rows in memory (sorted chunks go to temporary files and are merged).
"""

from __future__ import annotations

import csv
import heapq
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Final

__all__ = ["Problems", "SortedReport", "open_private"]

_FIRST: Final = 5
_VALUES = re.compile(r"'[^']*'|\"[^\"]*\"|\b[0-9]+\b")

REPORT_HEADER: Final = ("line", "to", "number", "status", "message_id", "reason")


def open_private(path: Path) -> Any:
    """``path`` opened for writing text, created readable by its owner only (0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "w", newline="", encoding="utf-8")


class Problems:
    """Rows that were not sent, grouped by status and reason (values such as numbers set aside)."""

    def __init__(self) -> None:
        self._groups: dict[tuple[str, str], list[Any]] = {}  # (status, reason) -> [count, lines]

    def add(self, status: str, reason: str, line: int) -> None:
        key = (status, _VALUES.sub("…", reason) if reason else "(no reason given)")
        group = self._groups.setdefault(key, [0, []])
        group[0] += 1
        if len(group[1]) < _FIRST:
            group[1].append(line)

    def __bool__(self) -> bool:
        return bool(self._groups)

    def lines(self) -> Iterator[str]:
        for (status, reason), (count, lines) in sorted(self._groups.items(), key=lambda kv: -kv[1][0]):
            first = ", ".join(map(str, lines)) + (", …" if count > len(lines) else "")
            rows, where = ("row", "line") if count == 1 else ("rows", "lines")
            yield f"{count} {rows} {status}: {reason} ({where} {first})"

    def as_data(self) -> list[dict[str, Any]]:
        return [
            {"status": status, "reason": reason, "count": count, "first_lines": lines}
            for (status, reason), (count, lines) in sorted(self._groups.items(), key=lambda kv: -kv[1][0])
        ]


def _line(row: Any) -> int:
    return int(row[0])


def _rows_of(spill: IO[str]) -> Iterator[tuple[Any, ...]]:
    for row in csv.reader(spill):
        yield (int(row[0]), *row[1:])


class SortedReport:
    """Rows added in any order, written to ``path`` sorted by line (bounded memory)."""

    CHUNK: Final = 50_000

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = open_private(path)  # opened (and so checked) before anything is sent
        self._rows: list[tuple[Any, ...]] = []
        self._spilled: list[IO[str]] = []

    def add(self, line: int, *fields: Any) -> None:
        self._rows.append((line, *fields))
        if len(self._rows) >= self.CHUNK:
            self._spill()

    def _spill(self) -> None:
        self._rows.sort(key=lambda row: row[0])
        spill = tempfile.TemporaryFile("w+", newline="", encoding="utf-8")  # noqa: SIM115 (closed in close())
        csv.writer(spill).writerows(self._rows)
        spill.seek(0)
        self._spilled.append(spill)
        self._rows = []

    def close(self) -> None:
        """Write every row, in line order, and close."""
        self._rows.sort(key=lambda row: row[0])
        sources: list[Iterator[tuple[Any, ...]]] = [iter(self._rows)]
        sources += [_rows_of(spill) for spill in self._spilled]
        writer = csv.writer(self._file)
        writer.writerow(REPORT_HEADER)
        writer.writerows(heapq.merge(*sources, key=_line))
        self._file.close()
        for spill in self._spilled:
            spill.close()
