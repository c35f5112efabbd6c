"""The ``smsapi`` command line against a sandbox served on a real socket: credentials from the
environment or a profile, data on stdout, exit codes, CSV bulk sends with line numbers, and a real
``kill -9`` of ``smsapi bulk`` followed by a rerun that delivers every recipient exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from smsapi_async.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_PARTIAL, cli
from smsapi_async.sandbox import AccountConfig, Sandbox, SandboxConfig, serve_in_thread

KEY, SECRET = "cli-key", "cli-secret"


@pytest.fixture
def sandbox() -> Iterator[tuple[Sandbox, str]]:
    config = SandboxConfig(
        accounts=(AccountConfig(api_key=KEY, api_secret=SECRET, balance=1e9),), rate_limit=0, delivery_delay=0
    )
    box = Sandbox(config)
    with serve_in_thread(box) as url:
        yield box, url


@pytest.fixture
def env(sandbox: tuple[Sandbox, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "SMSAPI_API_KEY": KEY,
        "SMSAPI_API_SECRET": SECRET,
        "SMSAPI_BASE_URL": sandbox[1],
        "SMSAPI_CONFIG": str(tmp_path / "none.ini"),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SMSAPI_PROFILE", raising=False)
    return values


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--rate", "50", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def deliveries(box: Sandbox) -> Counter[tuple[str, str]]:
    return Counter((r.msisdn, r.text) for m in box.state.messages.values() for r in m.recipients)


def test_send_balance_and_status_print_data_on_stdout(
    env: dict[str, str], sandbox: tuple[Sandbox, str]
) -> None:
    code, out, _ = run("-o", "json", "send", "--to", "61400000001,61400000002", "-m", "Hello")
    assert code == EXIT_OK
    sent = json.loads(out)
    assert sent["recipients"] == 2
    code, out, _ = run(
        "-o", "json", "status", str(sent["message_id"]), "--wait", "--every", "0.05", "--timeout", "10"
    )
    assert code == EXIT_OK
    assert json.loads(out)["pending"] == 0
    code, out, _ = run("-o", "json", "balance")
    assert code == EXIT_OK
    assert json.loads(out)["currency"] == "AUD"
    code, out, _ = run("balance")
    assert "AUD" in out


def test_replies_lists_what_came_back(env: dict[str, str], sandbox: tuple[Sandbox, str]) -> None:
    run("send", "--to", "61400000003", "-m", "Question?")
    sandbox[0].inject_reply("61400000003", "Yes please")
    code, out, _ = run("-o", "json", "replies")
    assert code == EXIT_OK
    assert [json.loads(line)["response"] for line in out.splitlines()] == ["Yes please"]


def test_replies_follow_prints_each_new_reply_once_until_stopped(
    env: dict[str, str], sandbox: tuple[Sandbox, str]
) -> None:
    run("send", "--to", "61400000004", "-m", "Coming?")
    sandbox[0].inject_reply("61400000004", "first")
    command = [
        sys.executable,
        "-m",
        "smsapi_async.cli",
        "-o",
        "json",
        "replies",
        "--follow",
        "--every",
        "0.1",
    ]
    process = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert json.loads(process.stdout.readline())["response"] == "first"
        sandbox[0].inject_reply("61400000004", "second")
        assert json.loads(process.stdout.readline())["response"] == "second"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def test_status_wait_gives_up_after_its_timeout_with_exit_1(env: dict[str, str]) -> None:
    code, out, _ = run(
        "-o", "json", "send", "--to", "61400001000", "-m", "never answered"
    )  # ends 000: pending
    message_id = json.loads(out)["message_id"]
    code, out, err = run(
        "-o", "json", "status", str(message_id), "--wait", "--timeout", "0.5", "--every", "0.1"
    )
    assert code == EXIT_PARTIAL
    assert json.loads(out)["pending"] == 1
    assert "still pending" in err


def test_sandbox_command_takes_the_sandbox_options() -> None:
    result = CliRunner().invoke(cli, ["sandbox", "--help"])
    assert result.exit_code == 0
    assert "--rate-limit" in result.stdout


def test_credentials_come_from_a_profile_and_are_never_needed_on_the_command_line(
    sandbox: tuple[Sandbox, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SMSAPI_API_KEY", "SMSAPI_API_SECRET", "SMSAPI_BASE_URL", "SMSAPI_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "config.ini"
    monkeypatch.setenv("SMSAPI_CONFIG", str(config))
    code, _, err = run("balance")
    assert code == EXIT_BAD_INPUT
    assert "no credentials" in err
    config.write_text(f"[work]\napi_key = {KEY}\napi_secret = {SECRET}\nbase_url = {sandbox[1]}\n")
    code, out, _ = run("--profile", "work", "-o", "json", "balance")
    assert code == EXIT_OK, out
    code, _, err = run("--profile", "home", "balance")
    assert code == EXIT_BAD_INPUT
    assert "no profile [home]" in err
    assert SECRET not in err


def test_analyze_explains_and_exits_2_when_the_text_cannot_go() -> None:
    result = CliRunner().invoke(cli, ["-o", "json", "analyze", "Don\u2019t pay \u20ac5", "--price", "0.05"])
    assert result.exit_code == EXIT_OK
    data = json.loads(result.stdout)
    assert (data["encoding"], data["parts"], data["suggestion"]) == ("UCS-2", 1, "Don't pay \u20ac5")
    assert data["cost_per_recipient"] == "0.05"
    result = CliRunner().invoke(cli, ["analyze", "x" * 700])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "700 characters" in result.stderr


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write("mobile,firstname\n")
        for i in range(rows):
            f.write(f"6140{i:07d},Ann\n")


def test_bulk_sums_up_bad_rows_by_reason_with_lines_and_sends_the_rest(
    env: dict[str, str], sandbox: tuple[Sandbox, str], tmp_path: Path
) -> None:
    csv_path = tmp_path / "in.csv"
    write_csv(csv_path, 1200)
    with csv_path.open("ab") as f:
        f.write(b"not-a-number,Bob\n")  # line 1202
        f.write(b'61400099999,"Two\nlines"\n')  # lines 1203-1204
        f.write(b"also-bad,Dee\n")  # line 1205
        f.write(b"61400077777,Cy\n")  # line 1206
    report = tmp_path / "report.csv"
    code, out, err = run(
        "-o", "json", "bulk", str(csv_path), "--message", "Hi [firstname]!", "--report", str(report)
    )
    assert code == EXIT_OK, err  # every valid recipient sent; rejected rows are listed, not failures
    data = json.loads(out)
    assert data["summary"]["rows"] == 1204
    assert data["summary"]["sent"] == 1202
    assert data["summary"]["rejected"] == 2
    assert data["summary"]["calls"] == 3 + 2  # 1200 "Hi Ann!" in 3 calls; "Hi Two\nlines!" and "Hi Cy!"
    (problem,) = data["problems"]  # one line per distinct reason, however many rows
    assert (problem["status"], problem["count"], problem["first_lines"]) == ("rejected", 2, [1202, 1205])
    assert "2 rows rejected:" in err
    assert "(lines 1202, 1205)" in err
    lines = report.read_text("utf-8").splitlines()
    assert lines[0] == "line,to,number,status,message_id,reason"
    assert len(lines) == 1 + 1204
    numbers = [int(line.split(",")[0]) for line in lines[1:]]
    assert numbers == sorted(numbers)  # in row order, whatever order the calls finished in
    assert any(line.startswith("1203,61400099999,") for line in lines)
    assert any(line.startswith("1206,61400077777,") for line in lines)
    assert max(deliveries(sandbox[0]).values()) == 1
    code, _, _ = run("bulk", str(csv_path), "--message", "Hi [firstname]!", "--strict")
    assert code == EXIT_PARTIAL  # --strict: rejected rows count as failures (all others sent before)


def test_bulk_bad_arguments_and_files_exit_2_before_sending(
    env: dict[str, str], sandbox: tuple[Sandbox, str], tmp_path: Path
) -> None:
    csv_path = tmp_path / "in.csv"
    write_csv(csv_path, 3)
    assert run("bulk", str(csv_path))[0] == EXIT_BAD_INPUT  # neither --message nor --column
    assert run("bulk", str(csv_path), "-m", "x", "--column", "firstname")[0] == EXIT_BAD_INPUT
    code, _, err = run("bulk", str(csv_path), "--column", "nope")
    assert code == EXIT_BAD_INPUT
    assert "no column 'nope'" in err
    no_numbers = tmp_path / "names.csv"
    no_numbers.write_text("name\nAnn\n")
    code, _, err = run("bulk", str(no_numbers), "-m", "x")
    assert code == EXIT_BAD_INPUT
    assert "no column of numbers" in err
    journal = tmp_path / "run.db"
    journal.write_bytes(b"garbage" * 1000)
    code, _, err = run("bulk", str(csv_path), "-m", "x", "--journal", str(journal))
    assert code == EXIT_BAD_INPUT
    assert "journal" in err
    assert sandbox[0].state.messages == {}


def test_kill_9_in_the_middle_of_bulk_then_a_rerun_delivers_everyone_exactly_once(
    env: dict[str, str], sandbox: tuple[Sandbox, str], tmp_path: Path
) -> None:
    box = sandbox[0]
    rows = 6000
    csv_path = tmp_path / "in.csv"
    write_csv(csv_path, rows)
    journal = tmp_path / "run.db"
    command = [
        sys.executable,
        "-m",
        "smsapi_async.cli",
        "--rate",
        "10",
        "bulk",
        str(csv_path),
        "--message",
        "Hi [firstname]",  # the same for every row: coalesced into calls of 50
        "--batch-size",
        "50",
        "--journal",
        str(journal),
        "--no-progress",
    ]
    process = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while len(box.state.messages) < 20 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.close()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    first = len(box.state.messages)
    assert 20 <= first < rows / 50, "the first run must die in the middle"

    rerun = subprocess.run(
        [*command[:4], "100", *command[5:]],
        check=False,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rerun.returncode == EXIT_OK, rerun.stderr
    assert "sent" in rerun.stdout
    delivered = deliveries(box)
    assert len(delivered) == rows
    assert max(delivered.values()) == 1
    assert len(box.state.messages) == rows / 50
