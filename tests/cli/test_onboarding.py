"""A newcomer's first steps: the library (and so the example app) finds a running sandbox from the
environment as the CLI does, the CLI takes its options anywhere, and a CLI that cannot connect says so
at once, naming the address it tried."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest
from support import ROOT

from benchmarks import free_port, wait_until_listening
from smsapi_async import DEFAULT_BASE_URL, AsyncSmsClient, InvalidRequestError
from smsapi_async.sandbox import Sandbox, SandboxConfig, serve_in_thread


def test_base_url_comes_from_the_argument_then_the_environment_then_the_real_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SMSAPI_BASE_URL", raising=False)
    assert AsyncSmsClient("k", "s").base_url == DEFAULT_BASE_URL
    monkeypatch.setenv("SMSAPI_BASE_URL", "http://127.0.0.1:8765")
    assert AsyncSmsClient("k", "s").base_url == "http://127.0.0.1:8765"
    assert AsyncSmsClient("k", "s", base_url="http://localhost:9000").base_url == "http://localhost:9000"
    monkeypatch.setenv("SMSAPI_BASE_URL", "")  # set but empty: as if unset
    assert AsyncSmsClient("k", "s").base_url == DEFAULT_BASE_URL
    monkeypatch.setenv("SMSAPI_BASE_URL", "http://example.com")  # checked like the argument
    with pytest.raises(InvalidRequestError, match=r"^\$SMSAPI_BASE_URL: base_url must be https"):
        AsyncSmsClient("k", "s")
    monkeypatch.setenv("SMSAPI_BASE_URL", "not a url at all")
    with pytest.raises(InvalidRequestError, match=r"^\$SMSAPI_BASE_URL: "):
        AsyncSmsClient("k", "s")


@pytest.mark.anyio
async def test_a_client_finds_a_running_sandbox_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with serve_in_thread(Sandbox(SandboxConfig())) as url:
        monkeypatch.setenv("SMSAPI_BASE_URL", url)
        monkeypatch.setenv("SMSAPI_API_KEY", "sandbox-key")
        monkeypatch.setenv("SMSAPI_API_SECRET", "sandbox-secret")
        async with AsyncSmsClient() as client:
            assert (await client.account.balance()).currency == "AUD"


def smsapi(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SMSAPI_")}
    clean.update({"SMSAPI_API_KEY": "sandbox-key", "SMSAPI_API_SECRET": "sandbox-secret"}, **(env or {}))
    clean["SMSAPI_CONFIG"] = os.devnull + ".absent"
    return subprocess.run(
        [sys.executable, "-m", "smsapi_async.cli", *args],
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
        check=False,
    )


def test_cli_options_go_before_or_after_the_command() -> None:
    with serve_in_thread(Sandbox(SandboxConfig())) as url:
        before = smsapi("-o", "json", "--base-url", url, "balance")
        after = smsapi("balance", "-o", "json", "--base-url", url)
        mixed = smsapi("--output=json", "balance", f"--base-url={url}", "-v")
        # a command's own option keeps its value, even one that looks like a global option
        sent = smsapi("send", "--to", "61491570156", "-m", "-o", "-ojson", "--base-url", url)
    for done in (before, after, mixed, sent):
        assert done.returncode == 0, done.stderr
    assert json.loads(before.stdout) == json.loads(after.stdout) == json.loads(mixed.stdout)
    assert json.loads(sent.stdout)["recipients"] == 1  # -m took "-o" as the text; -ojson was global


def test_a_cli_that_cannot_connect_says_so_fast_naming_the_url() -> None:
    started = time.monotonic()
    done = smsapi("balance", "--base-url", "http://127.0.0.1:9")  # discard port: nothing listens
    took = time.monotonic() - started
    assert done.returncode == 3
    assert "http://127.0.0.1:9" in done.stderr
    assert "no connection" in done.stderr
    assert took < 10  # about 2 s of retries and the interpreter's start; it was 7 s of silence before


def test_the_example_app_runs_against_a_sandbox_given_one_environment_variable() -> None:
    """The FastAPI example, served as its README says, books a table through a served sandbox: its
    own code unchanged, the sandbox's address in ``SMSAPI_BASE_URL`` (it answered 500 trying to
    reach the real API before the library read it)."""
    sandbox = Sandbox(SandboxConfig())
    port = free_port()
    with serve_in_thread(sandbox) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMSAPI_")}
        env |= {
            "SMSAPI_BASE_URL": url,
            "SMSAPI_API_KEY": "sandbox-key",
            "SMSAPI_API_SECRET": "sandbox-secret",
        }
        command = [sys.executable, "-m", "uvicorn", "app:app", "--port", str(port), "--log-level", "warning"]
        app = subprocess.Popen(command, cwd=ROOT / "examples" / "fastapi_booking", env=env)
        try:
            wait_until_listening(port, app, "the example app")
            booking = {"name": "Ada", "mobile": "61491570156", "party": 4, "time": "7pm"}
            answer = httpx.post(f"http://127.0.0.1:{port}/bookings", json=booking, timeout=30)
        finally:
            app.terminate()
            app.wait(timeout=30)
    assert answer.status_code == 201, answer.text
    assert answer.json()["sms_status"] == "sent"
    [message] = sandbox.state.messages.values()
    assert [r.msisdn for r in message.recipients] == ["61491570156"]
