"""The demo prints the sandbox inbox's URL and, with --keep-serving, keeps it up after the tour."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx


def test_the_demo_keeps_serving_its_inbox_until_interrupted() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "smsapi_async.demo", "--keep-serving"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},  # lines as they are printed, not at exit
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 120  # the tour takes ~10 s at 2 calls/s; generous for a busy CI
        while not any("Ctrl+C stops" in line for line in lines):
            line = process.stdout.readline()
            assert line, "the demo ended instead of serving on:\n" + "".join(lines)
            assert time.monotonic() < deadline, "".join(lines)
            lines.append(line)
        text = "".join(lines)
        steps = text.split("Next steps", 1)[1].split("Still serving", 1)[0]
        assert re.findall(r"\] (\d)\. ", steps) == ["1", "2", "3"]  # three next steps
        assert "nox -s demo -- --keep-serving" in steps
        assert "SMSAPI_BASE_URL=" in steps
        printed = re.findall(r"inbox (?:is )?at (http://127\.0\.0\.1:\d+/_sandbox/ui)", "".join(lines))
        assert len(printed) == 2  # at the start and when serving on
        assert printed[0] == printed[1]
        inbox = httpx.get(printed[0], params={"q": "table for 4"})
        assert inbox.status_code == 200
        assert "Your table for 4 is booked for 7pm." in inbox.text
        assert "3 messages matching" in inbox.text
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
