"""Bulk sends that stay safe with real people's habits: two runs on one journal, a damaged journal,
SQLite's own errors, private files. One test (or more) per finding of the audit; each failed before.

1. Two runs on one journal both sent (1 392-2 000 of 2 000 recipients twice across processes; 200
   of 1 000 in one process with a second run started 0.3 s later).
2. A journal SQLite's integrity check calls malformed was accepted, and 39 of 300 recipients
   already sent were sent again.
3. ``sqlite3.OperationalError`` escaped raw from ``send_bulk``.
4. The journal was world-readable (0644 under umask 022).
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from smsapi_async import JournalError, SQLiteJournal
from smsapi_async.sandbox import SandboxConfig
from smsapi_async.testing import SandboxHarness, sandbox_client

pytestmark = pytest.mark.anyio


@pytest.fixture
async def harness(anyio_backend: str) -> AsyncIterator[SandboxHarness]:
    async with sandbox_client(SandboxConfig(rate_limit=0)) as h:
        yield h


def rows(n: int, text: str = "hello") -> list[dict[str, str]]:
    return [{"message": text, "to": f"614{i:08d}"} for i in range(n)]


def deliveries(h: SandboxHarness) -> Counter[str]:
    return Counter(r.msisdn for m in h.sandbox.state.messages.values() for r in m.recipients)


def sends(h: SandboxHarness) -> int:
    return sum(1 for request in h.sandbox.requests if request["call"] == "send-sms")


async def collect(h: SandboxHarness, messages: Any, **options: Any) -> list[Any]:
    async with h.client.sms.send_bulk(messages, **options) as results:
        return [result async for result in results]


# --- 1. one run per journal ------------------------------------------------------------------------------


async def test_1_a_second_run_on_a_journal_in_use_in_this_process_is_refused_before_sending(
    harness: SandboxHarness, tmp_path: Path
) -> None:
    path = tmp_path / "run.db"
    async with harness.client.sms.send_bulk(rows(1000), journal=path, batch_size=100) as first:
        got = await first.__anext__()  # the first run is under way, its journal open
        before = sends(harness)
        with pytest.raises(JournalError, match="in use by another run"):
            await collect(harness, rows(1000), journal=path, batch_size=100)
        assert sends(harness) == before  # the second sent nothing
        rest = [got] + [result async for result in first]
    assert Counter(r.status for r in rest) == {"sent": 1000}
    assert max(deliveries(harness).values()) == 1
    # the lock went with the first run: the next run resumes, and sends nothing more
    again = await collect(harness, rows(1000), journal=path, batch_size=100)
    assert Counter((r.status, r.resumed) for r in again) == {("sent", True): 1000}
    assert max(deliveries(harness).values()) == 1


_HOLDER = """
import sys, time
from smsapi_async import SQLiteJournal
journal = SQLiteJournal(sys.argv[1])
print("holding", flush=True)
time.sleep(600)
"""


async def test_1_a_journal_held_by_another_process_is_refused_and_freed_when_it_dies(
    harness: SandboxHarness, tmp_path: Path
) -> None:
    path = tmp_path / "run.db"
    with anyio.fail_after(60):
        async with await anyio.open_process([sys.executable, "-c", _HOLDER, str(path)]) as holder:
            assert holder.stdout is not None
            assert await BufferedByteReceiveStream(holder.stdout).receive_until(b"\n", 100) == b"holding"
            with pytest.raises(JournalError, match=rf"in use by another run \(process {holder.pid} on "):
                await collect(harness, rows(50), journal=path)
            assert sends(harness) == 0
            holder.kill()  # SIGKILL: the operating system releases the lock
            await holder.wait()
    results = await collect(harness, rows(50), journal=path)
    assert Counter(r.status for r in results) == {"sent": 50}


# --- 2. a damaged journal is refused ---------------------------------------------------------------------


async def test_2_a_journal_sqlite_calls_malformed_is_refused_and_nothing_is_sent(
    harness: SandboxHarness, tmp_path: Path
) -> None:
    path = tmp_path / "run.db"
    await collect(harness, rows(300), journal=path, batch_size=100)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(path.read_bytes())
    last = page_size * (pages - 1)  # an index page: ordinary reads still work, the check does not
    data[last + 8 : last + 48] = bytes(40)
    path.write_bytes(bytes(data))
    before = sends(harness)
    with pytest.raises(JournalError, match="damaged"):
        await collect(harness, rows(300), journal=path, batch_size=100)
    assert sends(harness) == before
    assert max(deliveries(harness).values()) == 1


# --- 3. SQLite's errors are typed ------------------------------------------------------------------------


class FailingJournal(SQLiteJournal):
    """A journal whose disk fails at the second intent (as 'disk I/O error' does)."""

    begun = 0

    def begin(self, *args: Any, **kwargs: Any) -> int:
        self.begun += 1
        if self.begun == 2:
            self._db.close()  # every later statement fails inside sqlite3
        return super().begin(*args, **kwargs)


async def test_3_a_sqlite_failure_during_a_run_is_a_journal_error(
    harness: SandboxHarness, tmp_path: Path
) -> None:
    journal = FailingJournal(tmp_path / "run.db")
    with pytest.raises(JournalError, match="the journal failed"):
        await collect(harness, rows(300), journal=journal, batch_size=100, concurrency=1)
    journal._release()
    assert sends(harness) == 1  # the call whose intent could not be written was not made


def test_3_every_sqlite_error_of_a_journal_method_is_a_journal_error(tmp_path: Path) -> None:
    journal = SQLiteJournal(tmp_path / "run.db")
    journal.open('{"engine": 1}')
    journal._db.close()
    for call in (
        lambda: journal.lookup(0, "61400000001"),
        lambda: journal.seen(None, "61400000001"),
        lambda: list(journal.journaled()),
        journal.unknown,
        lambda: journal.finish(1, "sent", 1, ""),
    ):
        with pytest.raises(JournalError):
            call()
    journal._release()


# --- 4. private files ------------------------------------------------------------------------------------


async def test_4_the_journal_and_its_wal_and_shm_are_private(harness: SandboxHarness, tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    old = os.umask(0o022)
    try:
        async with harness.client.sms.send_bulk(rows(10), journal=path) as results:
            async for _ in results:
                for name in ("run.db", "run.db-wal", "run.db-shm", "run.db.lock"):
                    mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
                    assert mode == 0o600, (name, oct(mode))
    finally:
        os.umask(old)


def test_4_an_existing_world_readable_journal_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    SQLiteJournal(path).close()
    path.chmod(0o644)
    SQLiteJournal(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_lock_file_names_its_holder_and_a_crashed_holder_frees_it(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    first = SQLiteJournal(path)
    with pytest.raises(JournalError, match=f"process {os.getpid()}"):
        SQLiteJournal(path)
    first.close()
    SQLiteJournal(path).close()  # released by close
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from smsapi_async import SQLiteJournal; SQLiteJournal({str(path)!r}); import os; os._exit(9)",
        ],
        check=False,
    )
    assert done.returncode == 9
    SQLiteJournal(path).close()  # the dead process's lock went with it
