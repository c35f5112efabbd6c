"""Hostile input, continuously: the callback parser and receiver, the bulk CSV reader and the CLI's
arguments, driven by hypothesis.

* ``parse_callback`` given any Python object returns an event or raises ``InvalidCallbackError``
  (never another exception, never a hang on an endless iterable);
* ``CallbackReceiver`` given any raw ASGI request answers exactly once, never with a 5xx;
* ``smsapi bulk`` given any CSV (quoted newlines, commas, blank and non-UTF-8 lines, a BOM) reports
  every data row exactly once under its line number, sends each good row once, and exits 0 (all
  sent), 1 (some), 2 (none could go) or 3 (the API refused every call);
  given arbitrary bytes it exits 0, 1 or 2 without a traceback;
* ``smsapi`` given arbitrary arguments exits with one of its documented codes, without a traceback
  and without printing the API secret.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsapi_async import InvalidRequestError, RateLimiter
from smsapi_async.cli import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, cli
from smsapi_async.sandbox import AccountConfig, Sandbox, SandboxConfig, serve_in_thread
from smsapi_async.webhooks import CallbackReceiver, InvalidCallbackError, parse_callback

KEY, SECRET = "fuzz-key", "fuzz-secret-that-must-not-leak"
EXIT_CODES = {EXIT_OK, EXIT_PARTIAL, EXIT_BAD_INPUT, EXIT_FAILURE}

# --- the callback parser ------------------------------------------------------------------------

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.binary(max_size=20),
)
hostile_objects = st.one_of(
    junk,
    st.lists(junk, max_size=5),
    st.lists(st.tuples(junk, junk), max_size=5),
    st.lists(st.tuples(st.text(max_size=10), st.text(max_size=10), junk), max_size=3),
    st.dictionaries(st.text(max_size=10), junk, max_size=5),
    st.dictionaries(junk.filter(lambda v: v == v), st.text(max_size=10), max_size=5),  # NaN keys never match
    st.sets(st.integers(), max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(hostile_objects)
def test_parse_callback_of_any_object_gives_an_event_or_invalid_callback_error(query: Any) -> None:
    with contextlib.suppress(InvalidCallbackError):
        parse_callback(query)


@pytest.mark.parametrize(
    "endless",
    [
        lambda: itertools.repeat(("status", "delivered")),
        lambda: ((f"k{i}", "v") for i in itertools.count()),
    ],
)
def test_parse_callback_of_an_endless_iterable_is_refused_without_reading_it_all(endless: Any) -> None:
    with pytest.raises(InvalidCallbackError) as caught:
        parse_callback(endless())
    assert caught.value.reason == "too_large"


# --- the callback receiver, at the ASGI level ---------------------------------------------------

header_names = st.sampled_from(
    [b"x-transmitsms-signature", b"content-type", b"host", b"X-TRANSMITSMS-SIGNATURE", b"\xff\x00"]
)


@st.composite
def raw_requests(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "type": "http",
        "method": draw(st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "get", "BREW", ""])),
        "path": draw(st.sampled_from(["/", "/hooks", "/%00", "//x"])),
        "query_string": draw(
            st.one_of(
                st.binary(max_size=300),
                st.just(b"message_id=1&mobile=61400000001&status=delivered&datetime=2024-01-01+00:00:00"),
                st.binary(max_size=40).map(lambda b: b"response_id=1&mobile=61400000001&response=" + b),
                st.integers(1, 70_000).map(lambda n: b"a=" + b"x" * n),
            )
        ),
        "headers": draw(st.lists(st.tuples(header_names, st.binary(max_size=80)), max_size=4)),
    }


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.parametrize("verify", [True, False])
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scope=raw_requests(), body=st.binary(max_size=200))
def test_the_receiver_answers_any_raw_request_once_and_never_with_a_5xx(
    anyio_backend: str, verify: bool, scope: dict[str, Any], body: bytes
) -> None:
    events: list[object] = []
    receiver = CallbackReceiver(events.append, api_secret=SECRET, verify=verify)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        with anyio.fail_after(5):
            await receiver(scope, receive, send)

    anyio.run(run, backend=anyio_backend)
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1
    assert starts[0]["status"] in {200, 400, 401, 403, 405, 414}
    assert sent[-1]["type"] == "http.response.body"
    assert sum(receiver.stats.values()) <= 1
    assert len(events) <= 1


# --- the CLI against a served sandbox --------------------------------------------------------------


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Sandbox, dict[str, str]]]:
    config = SandboxConfig(
        accounts=(AccountConfig(api_key=KEY, api_secret=SECRET, balance=1e12),),
        rate_limit=0,
        delivery_delay=0,
    )
    box = Sandbox(config)
    with serve_in_thread(box) as url:
        env = {
            "SMSAPI_API_KEY": KEY,
            "SMSAPI_API_SECRET": SECRET,
            "SMSAPI_BASE_URL": url,
            "SMSAPI_CONFIG": "/nonexistent/smsapi.ini",
            "SMSAPI_PROFILE": "",
        }
        yield box, env


def invoke(env: dict[str, str], args: list[str]) -> Any:
    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback: the property fails with it
    return result


csv_text = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=30)
csv_numbers = st.one_of(
    st.integers(0, 9_999_999).map(lambda i: f"6140{i:07d}"),
    st.sampled_from(["", "abc", "+61 400 000 001", "0400000001", "6140000000\uff11", "61" + "9" * 30]),
)


# Files of rows, encodings and delimiters: tests/cli/test_cli_bulk_files.py (all valid rows sent once, or
# nothing and exit 2).


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.binary(max_size=400))
def test_bulk_given_arbitrary_bytes_exits_with_a_documented_code(
    served: tuple[Sandbox, dict[str, str]], tmp_path: Path, data: bytes
) -> None:
    _, env = served
    source = tmp_path / "in.csv"
    source.write_bytes(data)
    result = invoke(env, ["--rate", "1000", "bulk", str(source), "-m", "Hi [name]", "--no-progress"])
    assert result.exit_code in {EXIT_OK, EXIT_PARTIAL, EXIT_BAD_INPUT}, result.output


floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "-1", "1e308", "1e-300", "nan", "inf", "abc", "", "2"]),
)
commands = st.one_of(
    st.tuples(st.just("balance")),
    st.tuples(st.just("send"), st.just("--to"), csv_numbers, st.just("-m"), csv_text),
    st.tuples(
        st.just("send"), st.just("--to"), csv_numbers, st.just("-m"), csv_text, st.just("--max-parts"), floats
    ),
    st.tuples(st.just("status"), st.one_of(st.integers().map(str), csv_text)),
    st.tuples(st.just("replies"), st.just("--since"), floats),
    st.tuples(st.just("analyze"), csv_text),
    st.tuples(st.just("analyze"), csv_text, st.just("--price"), floats),
    st.tuples(st.sampled_from(["bogus", "--help", "-h", "send", "status", "bulk"])),
    st.tuples(st.just("bulk"), st.sampled_from(["/nonexistent.csv", "/", "-"])),
)
leading = st.lists(
    st.one_of(
        st.tuples(st.just("--rate"), floats),
        st.tuples(st.just("-o"), st.sampled_from(["json", "text", "xml", ""])),
        st.tuples(st.just("--profile"), csv_text),
        st.tuples(st.just("--base-url"), st.sampled_from(["not a url", "http://example.com", "ftp://x", ""])),
        st.tuples(st.just("-v")),
    ),
    max_size=3,
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(options=leading, command=commands)
def test_any_arguments_exit_with_a_documented_code_and_never_show_the_secret(
    served: tuple[Sandbox, dict[str, str]], options: list[tuple[str, ...]], command: tuple[str, ...]
) -> None:
    _, env = served
    args = [part for option in options for part in option] + list(command)
    result = invoke(env, args)
    assert result.exit_code in EXIT_CODES, (args, result.output)
    assert SECRET not in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("hours", ["17758715", "1e300", "nan", "inf", "-1"])
def test_replies_since_out_of_range_is_bad_input_not_a_traceback(
    served: tuple[Sandbox, dict[str, str]], hours: str
) -> None:
    """Found by the property above: ``--since 17758715`` overflowed the date (a traceback)."""
    _, env = served
    result = invoke(env, ["replies", "--since", hours])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "--since" in result.output


def test_a_rate_beyond_what_the_limiter_can_hold_is_bad_input_not_a_traceback(
    served: tuple[Sandbox, dict[str, str]],
) -> None:
    """Found by the property above: ``--rate 1e308`` overflowed the limiter's deque (a traceback)."""
    with pytest.raises(InvalidRequestError, match="at most"):
        RateLimiter(1e308)
    _, env = served
    assert invoke(env, ["--rate", "1e308", "balance"]).exit_code == EXIT_BAD_INPUT


def test_a_bare_carriage_return_in_an_unquoted_field_ends_the_row_as_old_mac_files_do(
    served: tuple[Sandbox, dict[str, str]], tmp_path: Path
) -> None:
    """Found by the CSV property: it was a traceback. The file is read whole before the first call,
    with universal line endings, as a spreadsheet reads it: the field ends at the carriage return."""
    box, env = served
    box.reset()
    source = tmp_path / "in.csv"
    source.write_bytes(b"to,text\n61400000001,fine\n61400000002,\r0\n")
    result = invoke(
        env, ["--rate", "1000", "-o", "json", "bulk", str(source), "--column", "text", "--no-progress"]
    )
    summary = json.loads(result.stdout)["summary"]
    assert (summary["rows"], summary["sent"], summary["rejected"]) == (3, 1, 2)  # empty text; "0" no number
    assert result.exit_code == EXIT_OK
