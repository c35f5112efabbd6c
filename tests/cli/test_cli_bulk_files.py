"""``smsapi bulk`` with files as people have them: encodings, delimiters, templates, duplicates, private
files, exit codes. One test per finding of the newcomer's run and the audit; each failed before.

4. Message text on the command line shows in ``ps``; a world-readable config holding the secret was
   read without a word; the report was world-readable.
5. With ``Hi [firstname]``, numbers on two rows with different names got two SMS.
6. ``Hi [fristname]`` went literally to every row, exit 0; an empty name produced ``Hi ``.
7. A Latin-1 file had its accented rows rejected and its plain-ASCII rows sent; a semicolon file got
   "no column of numbers".
9. A too-long message was reported once per row; ``--max-parts`` took up to 10; exit 1 whenever a row
   was rejected; blank rows vanished from the totals; tracebacks for a report in a missing directory or
   a non-UTF-8 ``--optouts``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsapi_async.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_PARTIAL, cli
from smsapi_async.sandbox import AccountConfig, Sandbox, SandboxConfig, serve_in_thread

KEY, SECRET = "files-key", "files-secret"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Sandbox, dict[str, str]]]:
    config = SandboxConfig(
        accounts=(AccountConfig(api_key=KEY, api_secret=SECRET, balance=1e12),),
        rate_limit=0,
        delivery_delay=0,
    )
    box = Sandbox(config)
    with serve_in_thread(box) as url:
        yield (
            box,
            {
                "SMSAPI_API_KEY": KEY,
                "SMSAPI_API_SECRET": SECRET,
                "SMSAPI_BASE_URL": url,
                "SMSAPI_CONFIG": "/nonexistent/smsapi.ini",
                "SMSAPI_PROFILE": "",
            },
        )


@pytest.fixture
def box(served: tuple[Sandbox, dict[str, str]]) -> Sandbox:
    served[0].reset()
    return served[0]


@pytest.fixture
def env(served: tuple[Sandbox, dict[str, str]]) -> dict[str, str]:
    return served[1]


def bulk(env: dict[str, str], *args: str, stdin: str | None = None) -> Any:
    result = CliRunner().invoke(cli, ["--rate", "1000", "bulk", *args, "--no-progress"], env=env, input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback
    return result


def texts(box: Sandbox) -> Counter[tuple[str, str]]:
    return Counter((r.msisdn, r.text) for m in box.state.messages.values() for r in m.recipients)


# --- 7. files as people have them ------------------------------------------------------------------------

PEOPLE = [("61400000001", "José"), ("61400000002", "Ann"), ("61400000003", "Zoë"), ("61400000004", "Bob")]


def people_csv(encoding: str, delimiter: str = ",", bom: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(["mobile", "firstname"])
    writer.writerows(PEOPLE)
    data = out.getvalue().encode(encoding)
    return ("\ufeff".encode(encoding) if bom and encoding.startswith("utf-8") else b"") + data


def test_7_a_latin_1_file_is_refused_whole_naming_the_line_and_nothing_is_sent(
    env: dict[str, str], box: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(people_csv("latin-1"))
    result = bulk(env, str(path), "-m", "Hi [firstname]")
    assert result.exit_code == EXIT_BAD_INPUT
    assert "line 2 is not utf-8 text" in result.output
    assert "--encoding cp1252" in result.output
    assert "José" in result.output  # what the line reads as in Windows-1252
    assert texts(box) == Counter()  # not even the plain-ASCII rows
    again = bulk(env, str(path), "-m", "Hi [firstname]", "--encoding", "latin-1")
    assert again.exit_code == EXIT_OK, again.output
    assert texts(box) == Counter({(n, f"Hi {name}"): 1 for n, name in PEOPLE})


@pytest.mark.parametrize(
    ("encoding", "bom"), [("utf-8", True), ("utf-16", False), ("utf-32", False), ("utf-8", False)]
)
def test_7_a_byte_order_mark_says_the_encoding(
    env: dict[str, str], box: Sandbox, tmp_path: Path, encoding: str, bom: bool
) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(people_csv(encoding, bom=bom))
    result = bulk(env, str(path), "-m", "Hi [firstname]")
    assert result.exit_code == EXIT_OK, result.output
    assert texts(box) == Counter({(n, f"Hi {name}"): 1 for n, name in PEOPLE})


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_7_semicolon_tab_and_pipe_files_are_read_by_their_header(
    env: dict[str, str], box: Sandbox, tmp_path: Path, delimiter: str
) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(people_csv("utf-8", delimiter))
    result = bulk(env, str(path), "-m", "Hi [firstname]")
    assert result.exit_code == EXIT_OK, result.output
    assert texts(box) == Counter({(n, f"Hi {name}"): 1 for n, name in PEOPLE})


def test_7_a_missing_column_error_names_the_header_found(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("name;town\nAnn;Perth\n", encoding="utf-8")
    result = bulk(env, str(path), "-m", "hi")
    assert result.exit_code == EXIT_BAD_INPUT
    assert "the header read as: name, town" in result.output
    assert "delimiter ';'" in result.output
    forced = bulk(env, str(path), "-m", "hi", "--delimiter", ",")
    assert "the header read as: name;town" in forced.output


# --- 6. templates checked before sending -----------------------------------------------------------------


def test_6_a_typo_in_a_placeholder_sends_nothing_and_exits_2(
    env: dict[str, str], box: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(people_csv("utf-8"))
    result = bulk(env, str(path), "-m", "Hi [fristname], see [tracked-link]")
    assert result.exit_code == EXIT_BAD_INPUT
    assert "[fristname]" in result.output
    assert "mobile, firstname" in result.output
    assert texts(box) == Counter()


def test_6_an_empty_placeholder_rejects_its_row_unless_allowed(
    env: dict[str, str], box: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    path.write_text("mobile,firstname\n61400000001,Ann\n61400000002,\n", encoding="utf-8")
    result = bulk(env, str(path), "-m", "Hi [FirstName]")
    assert result.exit_code == EXIT_OK, result.output  # the valid recipient was sent
    assert "1 row rejected: empty [FirstName]" in result.output
    assert "(line 3)" in result.output
    assert texts(box) == Counter({("61400000001", "Hi Ann"): 1})
    box.reset()
    allowed = bulk(env, str(path), "-m", "Hi [FirstName]", "--allow-empty")
    assert allowed.exit_code == EXIT_OK
    assert texts(box)[("61400000002", "Hi ")] == 1


# --- 5. one message per number ---------------------------------------------------------------------------


def test_5_a_number_on_two_rows_with_different_names_gets_one_message(
    env: dict[str, str], box: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        "mobile,firstname\n61400000001,Ann\n61400000002,Bo\n+61 400 000 001,Annie\n", encoding="utf-8"
    )
    result = bulk(env, str(path), "-m", "Hi [firstname]")
    assert result.exit_code == EXIT_OK, result.output
    assert texts(box) == Counter({("61400000001", "Hi Ann"): 1, ("61400000002", "Hi Bo"): 1})
    assert "1 row rejected: duplicate: this number already has a message in this run (first at line …)" in (
        result.output
    )
    assert "(line 4)" in result.output
    box.reset()
    repeats = bulk(env, str(path), "-m", "Hi [firstname]", "--allow-repeats")
    assert repeats.exit_code == EXIT_OK
    assert texts(box)[("61400000001", "Hi Annie")] == 1


# --- 4. private: text off the command line, config and report files ------------------------------------


def test_4_the_text_can_come_from_stdin_or_a_file(env: dict[str, str], box: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(people_csv("utf-8"))
    assert bulk(env, str(path), "-m", "-", stdin="Secret sale [firstname]\n").exit_code == EXIT_OK
    assert texts(box)[("61400000001", "Secret sale José")] == 1
    box.reset()
    text = tmp_path / "text.txt"
    text.write_text("From a file, [firstname]\n", encoding="utf-8")
    assert bulk(env, str(path), "--message-file", str(text)).exit_code == EXIT_OK
    assert texts(box)[("61400000002", "From a file, Ann")] == 1
    box.reset()
    sent = CliRunner().invoke(
        cli, ["--rate", "1000", "send", "--to", "61400000009", "-m", "-"], env=env, input="Hush"
    )
    assert sent.exit_code == EXIT_OK, sent.output
    assert texts(box)[("61400000009", "Hush")] == 1


def test_4_a_config_holding_the_secret_readable_by_others_is_warned_about(
    served: tuple[Sandbox, dict[str, str]], tmp_path: Path
) -> None:
    _, env = served
    config = tmp_path / "config.ini"
    config.write_text(
        f"[default]\napi_key = {KEY}\napi_secret = {SECRET}\nbase_url = {env['SMSAPI_BASE_URL']}\n"
    )
    config.chmod(0o644)
    plain = {"SMSAPI_CONFIG": str(config), "SMSAPI_PROFILE": ""}
    result = CliRunner().invoke(cli, ["balance"], env=plain)
    assert result.exit_code == EXIT_OK, result.output
    assert "others can read it (mode 644): chmod 600" in result.output
    assert SECRET not in result.output
    config.chmod(0o600)
    assert "chmod" not in CliRunner().invoke(cli, ["balance"], env=plain).output


def test_4_the_report_is_private(env: dict[str, str], box: Sandbox, tmp_path: Path) -> None:
    path, report = tmp_path / "people.csv", tmp_path / "report.csv"
    path.write_bytes(people_csv("utf-8"))
    old = os.umask(0o022)
    try:
        assert bulk(env, str(path), "-m", "hi", "--report", str(report)).exit_code == EXIT_OK
    finally:
        os.umask(old)
    assert stat.S_IMODE(report.stat().st_mode) == 0o600


# --- 9. reports and exit codes people can act on ---------------------------------------------------------


def test_9_a_too_long_message_is_one_line_not_one_per_row(
    env: dict[str, str], box: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "many.csv"
    path.write_text("mobile\n" + "".join(f"614{i:08d}\n" for i in range(3000)), encoding="utf-8")
    result = bulk(env, str(path), "-m", "x" * 700)
    assert result.exit_code == EXIT_BAD_INPUT  # nothing valid: nothing was sent
    problem_lines = [line for line in result.output.splitlines() if "rows rejected:" in line]
    assert len(problem_lines) == 1
    assert problem_lines[0].startswith("3000 rows rejected:")
    assert "(lines 2, 3, 4, 5, 6, …)" in problem_lines[0]


def test_9_max_parts_stops_at_the_apis_four(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(people_csv("utf-8"))
    assert bulk(env, str(path), "-m", "hi", "--max-parts", "10").exit_code == EXIT_BAD_INPUT
    assert bulk(env, str(path), "-m", "hi", "--max-parts", "4").exit_code == EXIT_OK


def test_9_blank_rows_count_in_the_totals(env: dict[str, str], box: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("mobile\n61400000001\n\n,\n61400000002\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["-o", "json", "bulk", str(path), "-m", "hi"], env=env)
    summary = json.loads(result.stdout)["summary"]
    assert (summary["rows"], summary["blank"], summary["sent"]) == (4, 2, 2)


@pytest.mark.parametrize(
    "args",
    [
        ["--report", "/nonexistent/dir/report.csv"],
        ["--optouts", "LATIN1"],
        ["--journal", "/nonexistent/dir/run.db"],
    ],
)
def test_9_unusable_paths_are_bad_input_with_a_message_not_a_traceback(
    env: dict[str, str], box: Sandbox, tmp_path: Path, args: list[str]
) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(people_csv("utf-8"))
    latin = tmp_path / "optouts.txt"
    latin.write_bytes("61400000001\n0400 000 002 José\n".encode("latin-1"))
    args = [str(latin) if arg == "LATIN1" else arg for arg in args]
    result = bulk(env, str(path), "-m", "hi", *args)
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    assert "Traceback" not in result.output
    assert texts(box) == Counter()


def test_9_a_journal_in_use_is_bad_input_with_a_message(
    env: dict[str, str], box: Sandbox, tmp_path: Path
) -> None:
    from smsapi_async import SQLiteJournal  # noqa: PLC0415

    path, journal = tmp_path / "people.csv", tmp_path / "run.db"
    path.write_bytes(people_csv("utf-8"))
    holder = SQLiteJournal(journal)
    try:
        result = bulk(env, str(path), "-m", "hi", "--journal", str(journal))
    finally:
        holder.close()
    assert result.exit_code == EXIT_BAD_INPUT
    assert "in use by another run" in result.output
    assert texts(box) == Counter()


# --- the property: any bytes, all valid rows sent once, or nothing sent and exit 2 ----------------------


@st.composite
def files(draw: st.DrawFn) -> tuple[bytes, list[str], str, list[str], bool]:
    """A CSV file as bytes, the arguments to read it, the numbers of its valid rows, and whether it
    must be refused whole."""
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
    tell = draw(st.booleans())
    names = st.text(st.sampled_from("abcÉéüß ;,\"'\t|"), max_size=6)
    rows = draw(
        st.lists(
            st.tuples(
                st.one_of(st.integers(0, 999).map(lambda i: f"61400{i:06d}"), st.sampled_from(["", "nope"])),
                names,
            ),
            max_size=8,
        )
    )
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(["mobile", "name"])
    writer.writerows(rows)
    text = out.getvalue()
    data = text.encode(encoding)
    args = ["--encoding", encoding] if tell and encoding == "cp1252" else []
    # read as UTF-8 (no byte-order mark, no --encoding), a cp1252 file with a non-ASCII byte is refused
    refused = encoding == "cp1252" and not tell and any(b > 0x7F for b in data)
    valid: list[str] = []
    for number, _ in rows:
        if number.startswith("614") and number not in valid:
            valid.append(number)
    return data, args, encoding, valid, refused


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=files())
def test_any_file_sends_every_valid_row_once_or_nothing_with_exit_2(
    served: tuple[Sandbox, dict[str, str]],
    tmp_path: Path,
    case: tuple[bytes, list[str], str, list[str], bool],
) -> None:
    box, env = served
    box.reset()
    data, args, _, valid, refused = case
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    result = bulk(env, str(path), "-m", "Hi [name]", "--allow-empty", *args)
    sent = texts(box)
    if refused:
        assert result.exit_code == EXIT_BAD_INPUT, result.output
        assert sent == Counter()
        return
    assert sorted(number for number, _ in sent) == sorted(valid), result.output
    assert all(count == 1 for count in sent.values())
    assert result.exit_code in (EXIT_OK, EXIT_BAD_INPUT, EXIT_PARTIAL)
    if valid:
        assert result.exit_code == EXIT_OK, result.output
