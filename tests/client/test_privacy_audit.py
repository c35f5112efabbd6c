"""The privacy audit: every public path, successes and every error kind, with DEBUG logging on every
logger, each error rendered with ``traceback.format_exception``; nothing anywhere may show the API
secret, the Basic credential, a password or the message text."""

from __future__ import annotations

import base64
import html
import logging
import traceback
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from support import Recorder, form_of

from smsapi_async import AsyncSmsClient, SmsApiError
from smsapi_async.otel import instrument
from smsapi_async.testing import sandbox_client

pytestmark = pytest.mark.anyio

TEXT = "meet me at Jo's & the old mill 7731"
PASSWORD = "hunter2-pass-0001"
SUB_SECRET = "sub-secret-9f8e7d6c5b"


class Haystack:
    """Everything a user could see: results' reprs, errors as tracebacks, log output."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.errors: list[str] = []

    async def run(self, label: str, call: Callable[[], Awaitable[Any]]) -> None:
        try:
            result = await call()
        except SmsApiError as exc:
            self.errors.append(type(exc).__name__)
            self.parts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
            self.parts += [repr(vars(link)) for link in _chain(exc)]
        else:
            self.parts += [repr(result), str(result)]

    def assert_clean(self, *leaks: str, logs: str) -> None:
        text = "\n".join([*self.parts, logs])
        for leak in leaks:
            assert leak not in text, f"{leak!r} leaked"


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # the root logger: smsapi_async, httpx, httpcore, the sandbox
    for name in ("smsapi_async", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{record.getMessage()} {record.args!r} {vars(record)!r}" for record in caplog.records)


async def test_every_public_path_keeps_secrets_and_message_text_private(
    all_logs: pytest.LogCaptureFixture,
) -> None:
    hay = Haystack()
    later = datetime.now(timezone.utc) + timedelta(days=1)
    async with sandbox_client() as harness:
        client = harness.client
        secret = client._auth._auth_header  # type: ignore[attr-defined]
        sms, lists = client.sms, client.lists
        sent = await sms.send(message=TEXT, to=["61400000001"])
        scheduled = await sms.send(message=TEXT, to=["61400000002"], send_at=later)
        harness.inject_reply("61400000001", TEXT)
        contact_list = await lists.add("Audit")
        steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("balance", client.account.balance),
            ("send", lambda: sms.send(message=TEXT, to=["61400000003"])),
            ("get", lambda: sms.get(sent.message_id)),
            ("stats", lambda: sms.stats(sent.message_id)),
            ("delivery", lambda: sms.delivery_status(sent.message_id, "61400000001")),
            ("sent", lambda: sms.sent(sent.message_id).to_list()),
            ("responses", lambda: sms.responses(message_id=sent.message_id, include_original=True).to_list()),
            ("user responses", lambda: sms.user_responses().to_list()),
            ("user sent", lambda: sms.user_sent(start=later - timedelta(days=2), end=later).to_list()),
            ("report", lambda: sms.message_report().to_list()),
            ("contact stats", lambda: sms.contact_stats("61400000001").to_list()),
            ("message log", lambda: sms.message_log(sent.message_id, "61400000001")),
            ("cancel", lambda: sms.cancel(scheduled.message_id)),
            ("reply", lambda: sms.reply(to="61400000001", message=TEXT, from_="61400000000")),
            ("format", lambda: sms.format_number(msisdn="0400000001", countrycode="AU")),
            ("add contact", lambda: lists.add_contact(contact_list.id, "61400000004", first_name="Ann")),
            ("members", lambda: lists.members(contact_list.id).to_list()),
            ("lists", lambda: lists.list().to_list()),
            ("numbers", lambda: client.numbers.list().to_list()),
            ("keyword", lambda: client.keywords.add("AUDIT", "61400000009", welcome_message=TEXT)),
            ("keywords", lambda: client.keywords.list().to_list()),
            ("add client", lambda: client.resellers.add_client("Sub", "sub@x.co", PASSWORD, "61400000005")),
            ("clients", lambda: client.resellers.clients().to_list()),
            ("edit client", lambda: client.resellers.edit_client(1, password=PASSWORD)),
            # refused before sending
            ("bytes message", lambda: sms.send(message=TEXT.encode(), to=["61400000001"])),  # type: ignore[arg-type]
            ("bytes password", lambda: client.resellers.edit_client(1, password=PASSWORD.encode())),  # type: ignore[arg-type]
            ("long message", lambda: sms.send(message=TEXT * 30, to=["61400000001"])),
        ]
        for label, step in steps:
            await hay.run(label, step)
        hay.parts.append(repr(client))
    basic = secret.split()[-1]
    decoded = base64.b64decode(basic).decode()
    api_secret = decoded.split(":", 1)[1]
    hay.assert_clean(api_secret, basic, PASSWORD, TEXT, logs=all_logs.text + everything_logged(all_logs))
    assert hay.errors.count("InvalidRequestError") == 3  # the three refused before sending
    assert len(hay.errors) <= 5  # nearly every path succeeded, so its result's repr was audited


def echo(request: httpx.Request) -> str:
    """What a careless server quotes of a request: every form value, decoded."""
    return " ".join(form_of(request).values())


SEND = ("send", lambda client: client.sms.send(message=TEXT, to=["61400000001"]))
READ = ("get", lambda client: client.sms.get(1))
TRUNCATED_CLIENT = (
    b'{"id": 7, "apikey": "sub-key", "apisecret": "'
    + SUB_SECRET.encode()
    + b'", "password": "'
    + PASSWORD.encode()
)
ERROR_ANSWERS: dict[str, Any] = {
    "api error": httpx.Response(400, json={"error": {"code": "FIELD_INVALID", "description": "bad"}}),
    "auth": httpx.Response(401, json={"error": {"code": "AUTH_FAILED", "description": "no"}}),
    "rate limited": httpx.Response(429, json={"error": {"code": "OVER_LIMIT", "description": "slow"}}),
    "server error": httpx.Response(503, content=b"<html>busy</html>"),
    "truncated": httpx.Response(200, content=b'{"message_id": 1, "message": "' + TEXT.encode()),
    "truncated client": httpx.Response(200, content=TRUNCATED_CLIENT),
    "contradictory": httpx.Response(503, json={"message": TEXT, "error": {"code": "SUCCESS"}}),
    "timeout": httpx.ReadTimeout("slow"),
    "dropped": httpx.RemoteProtocolError("gone"),
    "refused": httpx.ConnectError("refused"),
    "transport bug": RuntimeError("bug"),
    "echoing proxy page": lambda request: httpx.Response(
        400, content=f"<html>{echo(request)}</html>".encode()
    ),
    "echoing description": lambda request: httpx.Response(
        400, json={"error": {"code": "FIELD_INVALID", "description": f"refused: {echo(request)}"}}
    ),
    "bad number": httpx.Response(200, json={"message_id": "1e999999", "error": {"code": "SUCCESS"}}),
    # the second audit's echoes: in the code, in an object description, URL-encoded, HTML-escaped,
    # and the Authorization header quoted by a proxy
    "echoing code": lambda request: httpx.Response(
        400, json={"error": {"code": echo(request), "description": "bad"}}
    ),
    "echoing object description": lambda request: httpx.Response(
        400, json={"error": {"code": "FIELD_INVALID", "description": {"quoted": form_of(request)}}}
    ),
    "url-encoded echo": lambda request: httpx.Response(
        502, content=b"<html>bad gateway for " + request.content + b"</html>"
    ),
    "percent-encoded echo": lambda request: httpx.Response(
        502, content=f"<html>{quote(echo(request), safe='')}</html>".encode()
    ),
    "html-escaped echo": lambda request: httpx.Response(
        400, content=f"<html><pre>{html.escape(echo(request))}</pre></html>".encode()
    ),
    "authorization echo": lambda request: httpx.Response(
        400, content=f"<html>refused: {request.headers['authorization']}</html>".encode()
    ),
}


def forms_of(text: str) -> set[str]:
    """``text`` as a server may quote it: as sent, URL-encoded either way, HTML-escaped."""
    return {text, quote_plus(text), quote(text, safe=""), html.escape(text), html.escape(text, quote=False)}


def observed(client: AsyncSmsClient, hay: Haystack) -> InMemorySpanExporter:
    """Every event hook record and OpenTelemetry span of ``client`` goes into the haystack too."""
    client.add_event_hook(lambda event: hay.parts.append(repr(event)))
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrument(client, tracer_provider=provider, meter_provider=MeterProvider())
    return exporter


def spans_of(exporter: InMemorySpanExporter) -> list[str]:
    return [
        f"{span.name} {dict(span.attributes or {})!r} {span.status!r} {span.events!r}"
        for span in exporter.get_finished_spans()
    ]


@pytest.mark.parametrize("kind", list(ERROR_ANSWERS))
async def test_every_error_kind_keeps_secrets_and_message_text_private(
    all_logs: pytest.LogCaptureFixture, kind: str
) -> None:
    hay = Haystack()
    secret = "api-secret-0001-xyz"
    handler = Recorder(ERROR_ANSWERS[kind])
    async with AsyncSmsClient(
        "api-key-0001", secret, transport=httpx.MockTransport(handler), rate_limit=None, max_retries=0
    ) as client:
        exporter = observed(client, hay)
        for _, call in (SEND, READ):
            await hay.run(kind, lambda call=call: call(client))  # type: ignore[misc]
        await hay.run(kind, lambda: client.resellers.get_client(7))
        await hay.run(kind, lambda: client.resellers.add_client("Sub", "s@x.co", PASSWORD, "61400000005"))
        await hay.run(kind, lambda: client.sms.responses(message_id=1).to_list())
    hay.parts += spans_of(exporter)
    basic = base64.b64encode(f"api-key-0001:{secret}".encode()).decode()
    hay.assert_clean(
        secret, basic, PASSWORD, SUB_SECRET, *forms_of(TEXT), logs=all_logs.text + everything_logged(all_logs)
    )
    assert "InvalidRequestError" not in hay.errors
    assert hay.errors  # every kind fails at least the send


LONG = "The quick brown fox jumps over the lazy dog near the old mill at 7731, and then " * 6


async def test_a_quote_cut_off_by_the_end_of_an_excerpt_is_blanked_too(make_client: Any) -> None:
    # a proxy page quoting a long message: the excerpt stops after 200 characters, mid-quote
    page = lambda request: httpx.Response(502, content=f"<html>{echo(request)}</html>".encode())  # noqa: E731
    client = make_client(Recorder(page), max_retries=0)
    with pytest.raises(SmsApiError) as caught:
        await client.sms.send(message=LONG, to=["61400000001"])
    shown = "".join(traceback.format_exception(caught.value)) + repr(vars(caught.value.__cause__))
    assert LONG[:20] not in shown


async def test_an_upper_case_message_in_the_error_code_is_replaced(make_client: Any) -> None:
    # it looks like an API constant, but it is what was just sent
    answer = lambda request: httpx.Response(400, json={"error": {"code": form_of(request)["message"]}})  # noqa: E731
    client = make_client(Recorder(answer), max_retries=0)
    hay = Haystack()
    exporter = observed(client, hay)
    await hay.run("code", lambda: client.sms.get(1))
    await hay.run("code", lambda: client.sms.send(message="CALL_ME_BACK_NOW", to=["61400000001"]))
    hay.parts += spans_of(exporter)
    hay.assert_clean("CALL_ME_BACK_NOW", logs="")
