"""A real ``kill -9`` of ``smsapi bulk`` with a call in flight, then a resume whose extra calls are counted.

The audit found that a resume after a crash with calls in flight read the whole sent report to
settle them: 500-985 pages, 647-1 126 calls and 98-183 s at 15/s for a run whose clean send takes
199 calls. Here the sandbox carries out three sends (the messages go out) and never answers them;
the client is killed while it waits; the resume must settle those calls with a handful of
look-ups, send everyone else once, and say what it is doing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import anyio
import pytest

from smsapi_async._bulk._reconcile import CHECKED
from smsapi_async._journal import SQLiteJournal
from smsapi_async.cli import EXIT_OK
from smsapi_async.sandbox import AccountConfig, Sandbox, SandboxConfig, serve_app_in_thread

KEY, SECRET = "resume-key", "resume-secret"
ROWS = 100_000
BATCH = 500


class Hang:
    """The sandbox, except that send-sms calls ``first`` to ``first + count - 1`` are carried out
    and then never answered."""

    def __init__(self, app: Any, first: int, count: int) -> None:
        self.app = app
        self.hung = range(first, first + count)
        self.sends = 0
        self.waiting = 0
        self.arrived = threading.Event()  # all of them are waiting
        self.release = threading.Event()
        self.calls: Counter[str] = Counter()  # every API call made (the sandbox's own log is bounded)
        self.active = 0  # requests being carried out (the hung ones stay)

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.active += 1
        try:
            await self._http(scope, receive, send)
        finally:
            self.active -= 1

    def settle(self, within: float) -> None:
        """Wait until only the hung requests are left (calls already made by a killed client finish)."""
        deadline = time.monotonic() + within
        while self.active > len(self.hung) and time.monotonic() < deadline:
            time.sleep(0.01)

    async def _http(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        self.calls[scope["path"].rsplit("/", 1)[-1].split(".", 1)[0]] += 1
        if scope["path"].endswith("/send-sms.json"):
            self.sends += 1
            if self.sends in self.hung:

                async def swallow(message: Any) -> None:
                    pass

                await self.app(scope, receive, swallow)  # the message goes out; the answer never comes
                self.waiting += 1
                if self.waiting == len(self.hung):
                    self.arrived.set()
                while not self.release.is_set():  # noqa: ASYNC110 (another thread sets it)
                    await anyio.sleep(0.05)
                return
        await self.app(scope, receive, send)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Sandbox, Hang, str]]:
    config = SandboxConfig(
        accounts=(AccountConfig(api_key=KEY, api_secret=SECRET, balance=1e9),), rate_limit=0, delivery_delay=0
    )
    box = Sandbox(config)
    box.allowed_hosts = frozenset()
    app = Hang(box.app, first=60, count=3)
    try:
        with serve_app_in_thread(app) as url:
            yield box, app, url
    finally:
        app.release.set()


def test_a_resume_with_a_call_in_flight_costs_a_handful_of_calls_and_says_so(
    served: tuple[Sandbox, Hang, str], tmp_path: Path
) -> None:
    box, app, url = served
    csv_path = tmp_path / "people.csv"
    with csv_path.open("w", encoding="utf-8") as f:
        f.write("mobile\n")
        f.writelines(f"614{i:08d}\n" for i in range(ROWS))
    journal = tmp_path / "run.db"
    env = {
        **os.environ,
        "SMSAPI_API_KEY": KEY,
        "SMSAPI_API_SECRET": SECRET,
        "SMSAPI_BASE_URL": url,
        "SMSAPI_CONFIG": str(tmp_path / "none.ini"),
    }
    command = [sys.executable, "-m", "smsapi_async.cli", "--rate", "1000", "bulk", str(csv_path)]
    command += ["--message", "Your parcel is on its way", "--journal", str(journal)]

    process = subprocess.Popen(
        [*command, "--no-progress"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        assert app.arrived.wait(120), "the run never reached the calls that hang"
        os.kill(process.pid, signal.SIGKILL)  # killed while those calls are in flight
    finally:
        process.wait(timeout=30)
        app.settle(30)  # calls the client made before dying are carried out all the same
        assert process.stderr is not None
        process.stderr.close()
    first = Counter(app.calls)
    sent_before = {r.msisdn for m in box.state.messages.values() for r in m.recipients}
    opened = SQLiteJournal(journal)
    try:
        in_doubt = opened.unknown()
    finally:
        opened.close()
    delivered_before = sum(len(m.recipients) for m in box.state.messages.values())
    messages_before = set(box.state.messages)
    assert first["send-sms"] >= 62  # the calls in flight went out

    resume = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert resume.returncode == EXIT_OK, resume.stderr[-2000:]
    after = Counter(app.calls)
    extra = {call: after[call] - first[call] for call in after if call != "send-sms"}
    # (counted as messages made: requests the killed client had written may still be read after it
    # died, and come to nothing, since their connection is gone)
    resent = [m for key, m in box.state.messages.items() if key not in messages_before]
    # every recipient once; the resume sent only what was never sent, in full calls
    delivered = Counter(r.msisdn for m in box.state.messages.values() for r in m.recipients)
    assert len(delivered) == ROWS
    assert max(delivered.values()) == 1
    assert len(resent) == (ROWS - delivered_before) // BATCH
    assert all(len(m.recipients) == BATCH for m in resent)
    # look-ups only for the calls in doubt (the three that hang, and any others the journal had begun
    # when the client died): one finds a call that went out, CHECKED prove that one did not; plus one
    # page of the window. Was 500-985 pages.
    bound = 1 + sum(1 if record.recipients[0][2] in sent_before else CHECKED for record in in_doubt)
    assert sum(extra.values()) <= bound, (extra, len(in_doubt))
    assert "may have gone out" in resume.stderr  # the progress says what it is checking
    assert "from the journal" in resume.stdout  # and the summary how many came from the journal
