"""The sandbox's command line acting on a running sandbox: inject an SMS, show state and requests."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import httpx
import pytest

from smsapi_async.sandbox import Sandbox, SandboxConfig, serve_in_thread
from smsapi_async.sandbox.__main__ import main


def test_inject_show_state_and_requests_against_a_running_sandbox(capsys: pytest.CaptureFixture[str]) -> None:
    sandbox = Sandbox(SandboxConfig(rate_limit=0))
    with serve_in_thread(sandbox) as url:
        assert main(["--url", url, "--inject", "61400000001", "STOP"]) == 0
        injected = json.loads(capsys.readouterr().out)
        assert injected["is_optout"] is True

        assert main(["--url", url, "--show-state"]) == 0
        state = json.loads(capsys.readouterr().out)
        assert "61400000001" in state["accounts"][0]["optouts"]

        assert main(["--url", url, "--show-requests", "5"]) == 0
        assert "requests" in json.loads(capsys.readouterr().out)


def test_a_refused_injection_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with serve_in_thread(Sandbox(SandboxConfig(rate_limit=0))) as url:
        assert main(["--url", url, "--inject", "not-a-number", "hi"]) == 1
    assert "refused" in capsys.readouterr().out


def test_an_unreachable_sandbox_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--url", "http://127.0.0.1:9", "--show-state"]) == 1
    assert "could not reach" in capsys.readouterr().out


def test_serving_prints_the_base_url_and_the_demo_credentials() -> None:

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "smsapi_async.sandbox", "--port", str(port), "--api-secret", "s3cret"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(4)]
        assert lines == [
            f"Transmit SMS sandbox: http://127.0.0.1:{port}",
            "API key: sandbox-key",
            "API secret: s3cret",
            f"Inbox: http://127.0.0.1:{port}/_sandbox/ui",
        ]
        # the banner comes before uvicorn binds: wait for it, bounded generously (a busy machine
        # can take seconds to start a server process)
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/get-balance.json", auth=("sandbox-key", "s3cret")
                )
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the sandbox never listened"
                time.sleep(0.05)
        assert answer.json()["error"]["code"] == "SUCCESS"
        inbox = httpx.get(lines[3].removeprefix("Inbox: "))
        assert inbox.status_code == 200
        assert "<h1>Inbox</h1>" in inbox.text
    finally:
        process.terminate()
        process.wait(timeout=10)
