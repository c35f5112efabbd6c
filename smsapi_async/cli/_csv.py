"""Reading a CSV file of people the way people have them, or refusing it whole before anything is sent.

* **Encoding**: a byte-order mark says UTF-8, UTF-16 or UTF-32; ``--encoding`` says anything
  else; otherwise the file must be UTF-8. The whole file is decoded once before the first call, so an
  undecodable file is refused as a whole (naming its first bad line, and what it reads as in
  Windows-1252 when that decodes it) rather than half-sent: a Latin-1 file used to have its
  accented rows rejected and its plain-ASCII rows sent, and a rerun after fixing the encoding sent
  those again.
* **Delimiter**: ``,``, ``;``, tab or ``|``, whichever the header line holds most of outside quotes
  (``--delimiter`` to choose); errors name the header as read.
* **Rows**: the whole file is parsed once too, so a line the csv module refuses (a bare carriage
  return in an unquoted field, say) also stops the run before the first call; every data row is
  counted, blank ones too, with the line it starts on.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final

import attrs

__all__ = ["DELIMITERS", "CsvProblem", "CsvSource", "inspect_csv"]

DELIMITERS: Final = {",": ",", ";": ";", "tab": "\t", "\\t": "\t", "\t": "\t", "|": "|"}
"""What ``--delimiter`` accepts, and the character each means."""

_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CHUNK = 1 << 20


class CsvProblem(Exception):
    """The file cannot be read as a CSV of people; the message says why, in one line."""


@attrs.frozen
class CsvSource:
    """A CSV file checked whole: how to read it, its header, and how many data rows it has."""

    path: Path
    encoding: str
    delimiter: str
    header: tuple[str, ...]
    rows: int
    """Data rows, blank ones included."""

    def open(self) -> IO[str]:
        return self.path.open(encoding=self.encoding, newline="")

    def reader(self, stream: IO[str]) -> Iterator[tuple[int, dict[str, str]]]:
        """``(line, row)`` for each data row, blank ones included (as empty dicts)."""
        reader = csv.reader(stream, delimiter=self.delimiter)
        try:
            next(reader)  # the header, read by inspect_csv
            line = reader.line_num + 1
            for cells in reader:
                row = {name: cells[i] if i < len(cells) else "" for i, name in enumerate(self.header)}
                yield line, row if any(cell.strip() for cell in cells) else {}
                line = reader.line_num + 1
        except csv.Error as exc:
            raise CsvProblem(f"{self.path}: line {reader.line_num + 1}: not valid CSV ({exc})") from None

    def describe(self) -> str:
        shown = ", ".join(self.header) if self.header else "(nothing)"
        name = "tab" if self.delimiter == "\t" else repr(self.delimiter)
        return f"the header read as: {shown} (encoding {self.encoding}, delimiter {name})"


def _bom_encoding(path: Path) -> str | None:
    with path.open("rb") as raw:
        start = raw.read(4)
    return next((encoding for bom, encoding in _BOMS if start.startswith(bom)), None)


def _check_decodes(path: Path, encoding: str) -> None:
    """Decode the whole file (in chunks), or raise naming the first line that does not decode."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    lines = 1
    with path.open("rb") as raw:
        while chunk := raw.read(_CHUNK):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad_line = lines + chunk[: max(exc.start, 0)].count(b"\n")
                raise _Undecodable(bad_line, chunk[exc.start : exc.start + 1]) from None
            lines += text.count("\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise _Undecodable(lines, b"") from None


class _Undecodable(Exception):
    def __init__(self, line: int, byte: bytes) -> None:
        super().__init__(line)
        self.line = line
        self.byte = byte


def _first_line(path: Path, encoding: str) -> str:
    with path.open(encoding=encoding, newline="") as text:
        return text.readline()


def _sniff(header_line: str) -> str:
    """The delimiter the header holds most of, outside double quotes (a one-column file: ``,``)."""
    counts = dict.fromkeys((",", ";", "\t", "|"), 0)
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(counts, key=lambda c: counts[c])
    return best if counts[best] else ","


def _guess(path: Path, line: int) -> str:
    """What the bad line reads as in Windows-1252, for the message (when that decodes it)."""
    try:
        with path.open(encoding="cp1252", newline="") as text:
            for number, content in enumerate(text, start=1):
                if number == line:
                    return content.strip()[:60]
    except UnicodeDecodeError:
        return ""
    return ""


def inspect_csv(path: Path, *, encoding: str | None = None, delimiter: str | None = None) -> CsvSource:
    """Check the whole file and say how to read it.

    Raises:
        CsvProblem: undecodable in its encoding, unknown encoding or delimiter, no header.
    """
    found = _bom_encoding(path)
    chosen = found or encoding or "utf-8"
    try:
        codecs.lookup(chosen)
    except LookupError:
        raise CsvProblem(f"unknown encoding {chosen!r} (try utf-8, cp1252, latin-1, utf-16)") from None
    try:
        _check_decodes(path, chosen)
    except _Undecodable as bad:
        message = f"{path}: line {bad.line} is not {chosen} text"
        if bad.byte:
            message += f" (byte 0x{bad.byte.hex().upper()})"
        guess = _guess(path, bad.line) if encoding is None else ""
        if guess:
            message += f"; in Windows-1252 it reads {guess!r}: if that is right, rerun with --encoding cp1252"
        elif encoding is None:
            message += "; rerun with --encoding and the file's encoding"
        raise CsvProblem(message + ". Nothing was sent.") from None
    except OSError as exc:
        raise CsvProblem(f"{path}: cannot be read ({exc.strerror or exc})") from None
    first = _first_line(path, chosen)
    if not first.strip():
        raise CsvProblem(f"{path}: the first line is empty; it must be the header (column names)")
    if delimiter is None:
        separator = _sniff(first)
    elif delimiter in DELIMITERS:
        separator = DELIMITERS[delimiter]
    else:
        raise CsvProblem(f"--delimiter must be one of , ; tab |, got {delimiter!r}")
    try:
        header = next(csv.reader(io.StringIO(first), delimiter=separator))
    except (csv.Error, StopIteration) as exc:
        raise CsvProblem(f"{path}: line 1: not a valid CSV header ({exc})") from None
    source = CsvSource(path, chosen, separator, tuple(name.strip() for name in header), 0)
    with source.open() as stream:
        rows = sum(1 for _ in source.reader(stream))  # every line parsed before anything is sent
    return attrs.evolve(source, rows=rows)
