"""The bulk-send journal: every call's intent written (durably) before it is made, its outcome after.

A run that crashed, was killed or was cancelled, restarted with the same journal and the same input,
uses it to send nothing twice (recipients of a call whose outcome is unknown are reported, or
reconciled, never resent blindly) and to skip nothing (recipients never sent are sent).

:class:`SQLiteJournal` keeps it in one SQLite file (stdlib ``sqlite3``, no extra dependency). Another
store implements :class:`Journal`.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Final, NamedTuple, Protocol, runtime_checkable

from ._exceptions import SmsApiError

__all__ = [
    "BatchRecord",
    "Journal",
    "JournalError",
    "JournalMismatchError",
    "RecipientRecord",
    "RunMark",
    "SQLiteJournal",
]

INTENT: Final = "intent"
SENT: Final = "sent"
FAILED: Final = "failed"
UNKNOWN: Final = "unknown"
_STATES: Final = (INTENT, SENT, FAILED, UNKNOWN)


class JournalError(SmsApiError):
    """The journal cannot be used (corrupt, not a journal, another schema); nothing was sent."""


class JournalMismatchError(JournalError):
    """The journal was written for another input (or other settings); nothing was sent."""


class RunMark(NamedTuple):
    """How far the input had been read when the last call was journaled, and a digest of that part."""

    consumed: int
    digest: str


class RecipientRecord(NamedTuple):
    """What the journal knows about one recipient: its call's state, and the message id if sent.

    ``retry`` is true when the call failed as a whole (the API refused it, so nothing went out):
    the recipient is sent again. A recipient refused on its own (e.g. a number the API dropped)
    keeps its outcome.
    """

    batch_id: int
    state: str
    message_id: int | None
    reason: str
    retry: bool


class BatchRecord(NamedTuple):
    """One journaled call: its options (as JSON), when it was made, its state, and its recipients."""

    batch_id: int
    group: str
    options: str
    started_at: float
    state: str
    recipients: tuple[tuple[int, str, str], ...]  # (input index, number as given, normalised number)


@runtime_checkable
class Journal(Protocol):
    """What :meth:`~smsapi_async.resources.sms.SmsResource.send_bulk` needs from a journal.

    Every method is called from the event loop and must be quick (a local store). ``begin`` must
    be durable when it returns: the call is made right after.
    """

    def open(self, fingerprint: str) -> RunMark | None:
        """Start a run with these settings; return the mark of an earlier run, or ``None``.

        Raise :class:`JournalMismatchError` if the journal belongs to other settings."""

    def lookup(self, index: int, number: str) -> RecipientRecord | None:
        """The record of the recipient ``number`` of input item ``index``, if journaled."""

    def journaled(self) -> Iterator[tuple[str, str]]:
        """Every (group, number) journaled, to resume de-duplication (read once, at the start)."""

    def seen(self, group: str, number: str) -> bool:
        """Whether ``number`` is journaled for a call with these text and options (a duplicate)."""

    def begin(
        self,
        group: str,
        options: str,
        recipients: Sequence[tuple[int, str, str]],
        mark: RunMark,
        now: float,
    ) -> int:
        """Record the intent to make one call; return its batch id. Durable before returning."""

    def finish(self, batch_id: int, state: str, message_id: int | None, reason: str) -> None:
        """Record a call's outcome (``sent``, ``failed`` or ``unknown``)."""

    def finish_recipients(self, batch_id: int, numbers: Iterable[str], state: str, reason: str) -> None:
        """Override the outcome of some recipients of a call (e.g. the API refused those numbers)."""

    def unknown(self) -> list[BatchRecord]:
        """Calls whose outcome is unknown (an ``intent`` never finished counts as unknown)."""

    def close(self) -> None:
        """Release the store."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY,
    grp TEXT NOT NULL,
    options TEXT NOT NULL,
    started_at REAL NOT NULL,
    state TEXT NOT NULL,
    message_id INTEGER,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS recipients (
    idx INTEGER NOT NULL,
    number TEXT NOT NULL,
    raw TEXT NOT NULL,
    grp TEXT NOT NULL,
    batch_id INTEGER NOT NULL,
    state TEXT,
    reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (idx, number)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS recipients_by_group ON recipients (grp, number);
CREATE INDEX IF NOT EXISTS recipients_by_batch ON recipients (batch_id);
"""
_KIND = "smsapi_async bulk journal"
_VERSION = "1"


class SQLiteJournal:
    """A :class:`Journal` in one SQLite file.

    Args:
        path: the file; created if missing. Use one file per bulk run (and the same file to resume it).
        durable: sync every intent to disk before the call (default). ``False`` is for the
            throw-away journal a run without ``journal=`` uses to de-duplicate on disk.
    """

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = True) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            # synchronous first: switching a new file to WAL under the default (FULL) syncs it,
            # ~50 ms on a busy disk before the first call of every run without journal=
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'OFF'}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._check_kind()
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path} is not a usable bulk-send journal: {exc}") from None

    def _check_kind(self) -> None:
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return
        if "meta" not in tables:
            raise JournalError(f"{self.path} is an SQLite file but not a bulk-send journal")
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("kind") != _KIND or meta.get("version") != _VERSION:
            raise JournalError(f"{self.path} is not a bulk-send journal of this version")

    def open(self, fingerprint: str) -> RunMark | None:
        try:
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
            if not meta:
                with self._db:
                    self._db.execute("BEGIN IMMEDIATE")
                    self._db.executemany(
                        "INSERT INTO meta VALUES (?, ?)",
                        [
                            ("kind", _KIND),
                            ("version", _VERSION),
                            ("fingerprint", fingerprint),
                            ("consumed", "0"),
                            ("digest", ""),
                            ("created", str(time.time())),
                        ],
                    )
                return None
            if meta.get("fingerprint") != fingerprint:
                raise JournalMismatchError(
                    f"{self.path} was written by a bulk send with other settings (batch size, "
                    "normalisation, de-duplication); resume with the same settings or use a new journal"
                )
            consumed = int(meta["consumed"])
            return RunMark(consumed, meta["digest"]) if consumed else None
        except (sqlite3.DatabaseError, KeyError, ValueError) as exc:
            raise JournalError(f"{self.path}: the journal is corrupt ({exc!r}); nothing was sent") from None

    def lookup(self, index: int, number: str) -> RecipientRecord | None:
        row = self._db.execute(
            "SELECT r.batch_id, COALESCE(r.state, b.state), b.message_id, "
            "CASE WHEN r.reason != '' THEN r.reason ELSE b.reason END, r.state IS NULL AND b.state = ? "
            "FROM recipients r JOIN batches b ON b.id = r.batch_id WHERE r.idx = ? AND r.number = ?",
            (FAILED, index, number),
        ).fetchone()
        if row is None:
            return None
        return RecipientRecord(int(row[0]), str(row[1]), row[2], str(row[3]), bool(row[4]))

    def journaled(self) -> Iterator[tuple[str, str]]:
        for group, number in self._db.execute("SELECT grp, number FROM recipients"):
            yield str(group), str(number)

    def seen(self, group: str, number: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM recipients r JOIN batches b ON b.id = r.batch_id "
            "WHERE r.grp = ? AND r.number = ? AND NOT (r.state IS NULL AND b.state = ?) LIMIT 1",
            (group, number, FAILED),
        ).fetchone()
        return row is not None

    def begin(
        self,
        group: str,
        options: str,
        recipients: Sequence[tuple[int, str, str]],
        mark: RunMark,
        now: float,
    ) -> int:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            cursor = self._db.execute(
                "INSERT INTO batches (grp, options, started_at, state) VALUES (?, ?, ?, ?)",
                (group, options, now, INTENT),
            )
            batch_id = cursor.lastrowid
            assert batch_id is not None
            # a recipient journaled by a failed call is sent again: its row moves to this call
            self._db.executemany(
                "INSERT OR REPLACE INTO recipients (idx, number, raw, grp, batch_id, state, reason) "
                "VALUES (?, ?, ?, ?, ?, NULL, '')",
                [(index, number, raw, group, batch_id) for index, raw, number in recipients],
            )
            self._db.executemany(
                "UPDATE meta SET value = ? WHERE key = ?",
                [(str(mark.consumed), "consumed"), (mark.digest, "digest")],
            )
        return batch_id

    def finish(self, batch_id: int, state: str, message_id: int | None, reason: str) -> None:
        if state not in _STATES:
            raise ValueError(f"unknown journal state {state!r}")
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "UPDATE batches SET state = ?, message_id = ?, reason = ? WHERE id = ?",
                (state, message_id, reason, batch_id),
            )

    def finish_recipients(self, batch_id: int, numbers: Iterable[str], state: str, reason: str) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "UPDATE recipients SET state = ?, reason = ? WHERE batch_id = ? AND number = ?",
                [(state, reason, batch_id, number) for number in numbers],
            )

    def unknown(self) -> list[BatchRecord]:
        batches = self._db.execute(
            "SELECT id, grp, options, started_at, state FROM batches WHERE state IN (?, ?) ORDER BY id",
            (INTENT, UNKNOWN),
        ).fetchall()
        records = []
        for batch_id, group, options, started_at, state in batches:
            recipients = self._db.execute(
                "SELECT idx, raw, number FROM recipients WHERE batch_id = ? AND state IS NULL ORDER BY idx",
                (batch_id,),
            ).fetchall()
            records.append(
                BatchRecord(
                    batch_id, group, options, started_at, state, tuple((i, r, n) for i, r, n in recipients)
                )
            )
        return records

    def close(self) -> None:
        self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteJournal({str(self.path)!r})"
