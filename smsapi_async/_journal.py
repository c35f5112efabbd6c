"""The bulk-send journal: every call's intent written (durably) before it is made, its outcome after.

A run that crashed, was killed or was cancelled, restarted with the same journal and the same input,
uses it to send nothing twice (recipients of a call whose outcome is unknown are reported, or
reconciled, never resent blindly) and to skip nothing (recipients never sent are sent).

:class:`SQLiteJournal` keeps it in one SQLite file (stdlib ``sqlite3``, no extra dependency). Another
store implements :class:`Journal`. It is trusted only when it can be:

* **one run at a time**: opening it takes an exclusive lock (``<journal>.lock`` beside it, held until
  :meth:`~SQLiteJournal.close` or the process ends, however it ends); a second run, in this process
  or another, is refused with :class:`JournalError` before anything is sent. The lock is the
  operating system's (``flock``): keep journals on a local disk, since network filesystems may not
  share such locks between hosts;
* **intact**: an existing journal must pass SQLite's ``quick_check`` and be of this schema, or it
  is refused with one line saying why; every SQLite error is a :class:`JournalError`;
* **private**: it holds every number and the full text, so the file (and SQLite's ``-wal`` and
  ``-shm`` beside it, which take its permissions) is readable by its owner only (0600).
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import os
import socket
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final, NamedTuple, Protocol, TypeVar, runtime_checkable

from ._exceptions import SmsApiError

__all__ = [
    "BatchRecord",
    "Journal",
    "JournalError",
    "JournalMismatchError",
    "RecipientRecord",
    "RunLock",
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

    def seen(self, group: str | None, number: str) -> int | None:
        """The input index of a recipient ``number`` journaled for a call with these text and
        options (``group``), or for any call (``None``), unless that call failed as a whole;
        ``None`` when there is none (not a duplicate)."""

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
CREATE INDEX IF NOT EXISTS recipients_by_number ON recipients (number);
"""
_KIND = "smsapi_async bulk journal"
_VERSION = "1"


F = TypeVar("F", bound=Callable[..., Any])


def _typed(method: F) -> F:
    """Every SQLite error of a journal method as a :class:`JournalError` (disk full, I/O error, a
    database locked by something else), never a raw ``sqlite3`` exception."""

    @functools.wraps(method)
    def wrapper(self: SQLiteJournal, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: the journal failed ({exc})") from None

    return wrapper  # type: ignore[return-value]


class RunLock:
    """An exclusive lock on a journal for one run: ``<path>.lock``, locked with the operating
    system's ``flock`` (``msvcrt.locking`` on Windows), released on :meth:`release` or when the
    process ends. The file says who holds it, for the message a second run gets."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + ".lock")
        self._fd: int | None = None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(fd)
        except OSError:
            holder = _read_holder(fd)
            os.close(fd)
            raise JournalError(
                f"{path} is in use by another run{f' ({holder})' if holder else ''}: wait for it to end, "
                "or use another journal. (If the journal is on a network filesystem, keep it on a local "
                "disk: such filesystems may not share locks between hosts.)"
            ) from None
        self._fd = fd
        started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"process {os.getpid()} on {socket.gethostname()} since {started}".encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                _unlock(fd)
            os.close(fd)


if sys.platform == "win32":  # pragma: no cover - CI runs on Linux
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _private(path: Path) -> None:
    """The journal file readable by its owner only, created so if missing (its ``-wal`` and
    ``-shm`` take its permissions when SQLite makes them)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    for name in (path.name, path.name + "-wal", path.name + "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path.with_name(name), 0o600)


class SQLiteJournal:
    """A :class:`Journal` in one SQLite file (see the module docstring for the lock, the checks and
    the permissions).

    Args:
        path: the file; created if missing. Use one file per bulk run (and the same file to resume it).
        durable: sync every intent to disk before the call (default). ``False`` is for the
            throw-away journal a run without ``journal=`` uses to de-duplicate on disk.
        lock: take the run lock (default). ``False`` only for a journal no one else can know of.

    Raises:
        JournalError: another run holds the journal, or it is damaged, not a journal, of another
            schema, or cannot be opened at all.
    """

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = True, lock: bool = True) -> None:
        self.path = Path(path)
        try:
            self._lock = RunLock(self.path) if lock else None
        except OSError as exc:
            raise JournalError(f"{self.path}: cannot lock the journal ({exc.strerror or exc})") from None
        try:
            existed = self.path.exists() and self.path.stat().st_size > 0
            _private(self.path)
            self._db = sqlite3.connect(self.path, isolation_level=None)
            # synchronous first: switching a new file to WAL under the default (FULL) syncs it,
            # ~50 ms on a busy disk before the first call of every run without journal=
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'OFF'}")
            self._db.execute("PRAGMA journal_mode=WAL")
            if existed:
                self._check_intact()
            self._check_kind()
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            self._release()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise JournalError(f"{self.path} is not a usable bulk-send journal: {reason}") from None
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()

    def _check_intact(self) -> None:
        problems = [str(row[0]) for row in self._db.execute("PRAGMA quick_check(3)")]
        if problems != ["ok"]:
            raise JournalError(
                f"{self.path} is damaged (SQLite's check: {'; '.join(problems)[:200]}); nothing was sent. "
                "Its outcomes cannot be trusted: send the rest with a new journal only once you know "
                "who was sent to"
            )

    def _check_kind(self) -> None:
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return
        if "meta" not in tables:
            raise JournalError(f"{self.path} is an SQLite file but not a bulk-send journal")
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if meta and (meta.get("kind") != _KIND or meta.get("version") != _VERSION):  # empty: never opened
            raise JournalError(f"{self.path} is not a bulk-send journal of this version")

    @_typed
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

    @_typed
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
        try:
            for group, number in self._db.execute("SELECT grp, number FROM recipients"):
                yield str(group), str(number)
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: the journal failed ({exc})") from None

    @_typed
    def seen(self, group: str | None, number: str) -> int | None:
        same_group = "" if group is None else "r.grp = ? AND "
        row = self._db.execute(
            "SELECT MIN(r.idx) FROM recipients r JOIN batches b ON b.id = r.batch_id "
            f"WHERE {same_group}r.number = ? AND NOT (r.state IS NULL AND b.state = ?)",
            (number, FAILED) if group is None else (group, number, FAILED),
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    @_typed
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

    @_typed
    def finish(self, batch_id: int, state: str, message_id: int | None, reason: str) -> None:
        if state not in _STATES:
            raise ValueError(f"unknown journal state {state!r}")
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "UPDATE batches SET state = ?, message_id = ?, reason = ? WHERE id = ?",
                (state, message_id, reason, batch_id),
            )

    @_typed
    def finish_recipients(self, batch_id: int, numbers: Iterable[str], state: str, reason: str) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "UPDATE recipients SET state = ?, reason = ? WHERE batch_id = ? AND number = ?",
                [(state, reason, batch_id, number) for number in numbers],
            )

    @_typed
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
        try:
            self._db.close()
        finally:
            self._release()

    def __repr__(self) -> str:
        return f"SQLiteJournal({str(self.path)!r})"
