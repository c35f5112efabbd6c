"""Fuzzing the in-process sandbox through the real client and through raw httpx.

Whatever goes in (wrong types, huge values, invalid UTF-8, broken or missing auth), the sandbox
answers a documented error, never a 500, and the client either succeeds or raises a typed
``SmsApiError``: never another exception type.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, Literal

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import example as pinned
from hypothesis import strategies as st

from smsapi_async import AsyncSmsClient, AuthenticationError, InvalidRequestError, SmsApiError
from smsapi_async._exceptions import _CODE_TO_ERROR
from smsapi_async.sandbox import Sandbox, SandboxConfig, VirtualClock

DOCUMENTED_STATUSES = {200, 400, 401, 404, 429}
DOCUMENTED_CODES = {"SUCCESS", *_CODE_TO_ERROR}
KEY, SECRET = "sandbox-key", "sandbox-secret"
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))

# one sandbox for every example (its state only grows); the limit off, a small body cap
SANDBOX = Sandbox(SandboxConfig(rate_limit=0, max_body_bytes=4000), clock=VirtualClock())

CALLS = [
    "send-sms", "cancel-sms", "get-sms", "get-sms-stats", "get-sms-sent", "get-sms-delivery-status",
    "get-list", "get-lists", "add-list", "add-to-list", "edit-list-member", "delete-from-list",
    "optout-list-member", "get-numbers", "get-number", "lease-number", "edit-number-options",
    "add-keyword", "edit-keyword", "get-keywords", "add-email", "delete-email", "add-client",
    "get-client", "get-transactions", "format-number", "get-user-sms-responses", "get-balance",
    "get-sms-responses", "no-such-call",
]  # fmt: skip
PARAM_NAMES = [
    "message", "to", "list_id", "message_id", "id", "msisdn", "mobile", "page", "max", "from",
    "send_at", "countrycode", "field_1", "name", "email", "client_id", "start", "end", "keyword",
    "number", "status", "validity", "filter", "members", "max_sms", "password",
]  # fmt: skip

# values of every type the client's encoder might meet, including ones it should refuse
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**30, -(10**30), 2**63, -1, 0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["", " ", "x" * 5000, "61491570151", "\x00", "😀" * 10, "1e309"]),
    st.binary(max_size=20),
    st.datetimes(timezones=st.just(timezone.utc)),
    st.datetimes(),  # naive
    st.builds(object),
)
values = st.one_of(
    scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=5), scalars, max_size=2)
)


def run(func: Callable[[], Awaitable[Any]], backend: str = "asyncio") -> Any:
    return anyio.run(func, backend=backend)


def client(key: str = KEY, secret: str = SECRET, fmt: Literal["json", "xml"] = "json") -> AsyncSmsClient:
    transport = httpx.ASGITransport(app=SANDBOX.app)
    return AsyncSmsClient(
        key, secret, base_url="http://127.0.0.1", response_format=fmt, rate_limit=None, transport=transport
    )


def check_log_since(mark: int) -> None:
    """Every request the sandbox logged since ``mark`` got a documented status and code."""
    new = [e for e in SANDBOX.requests if e["id"] > mark]
    for entry in new:
        assert entry["status"] in DOCUMENTED_STATUSES, entry
        assert entry["code"] in DOCUMENTED_CODES, entry


def last_id() -> int:
    return SANDBOX.requests[-1]["id"] if SANDBOX.requests else 0


@FUZZ
@given(
    call=st.sampled_from(CALLS),
    fmt=st.sampled_from(["json", "xml"]),
    params=st.dictionaries(st.sampled_from(PARAM_NAMES), values, max_size=5),
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_client_call_with_arbitrary_params_succeeds_or_raises_a_typed_error(
    call: str, fmt: Literal["json", "xml"], params: dict[str, Any], backend: str
) -> None:
    mark = last_id()

    async def go() -> Any:
        async with client(fmt=fmt) as c:
            try:
                return await c.call(call, params)
            except SmsApiError as exc:
                return exc

    outcome = run(go, backend)
    assert isinstance(outcome, (dict, SmsApiError))
    check_log_since(mark)


@FUZZ
@given(
    message_id=values,
    msisdn=values,
    list_id=values,
    text=values,
    page_size=values,
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_resource_methods_with_wrong_types_succeed_or_raise_a_typed_error(
    message_id: Any, msisdn: Any, list_id: Any, text: Any, page_size: Any, backend: str
) -> None:
    mark = last_id()

    async def go() -> list[object]:
        outcomes: list[object] = []
        async with client() as c:
            attempts: list[Callable[[], Awaitable[object]]] = [
                lambda: c.sms.get(message_id=message_id),
                lambda: c.sms.cancel(message_id=message_id),
                lambda: c.sms.send(message=text, to=msisdn),
                lambda: c.sms.send(message=text, list_id=list_id),
                lambda: c.sms.delivery_status(message_id=message_id, msisdn=msisdn),
                lambda: c.sms.sent(message_id=message_id, page_size=page_size).to_list(),
                lambda: c.lists.add_contact(list_id, msisdn, first_name=text),
                lambda: c.lists.members(list_id, page_size=page_size).to_list(),
                lambda: c.lists.add(text, fields={"field_1": text}),
                lambda: c.numbers.get(msisdn),
                lambda: c.keywords.add(text, msisdn),
                lambda: c.email.add(text),
                lambda: c.sms.format_number(msisdn=msisdn, countrycode=text),
            ]
            for attempt in attempts:
                try:
                    outcomes.append(await attempt())
                except SmsApiError as exc:
                    outcomes.append(exc)
        return outcomes

    assert len(run(go, backend)) == 13
    check_log_since(mark)


@FUZZ
@given(key=st.text(max_size=30), secret=st.text(max_size=30))
def test_any_credentials_are_refused_locally_or_by_the_sandbox_with_a_typed_error(
    key: str, secret: str
) -> None:
    mark = last_id()

    async def go() -> object:
        try:
            async with client(key, secret) as c:
                return await c.account.balance()
        except SmsApiError as exc:
            return exc

    outcome = run(go)
    if (key, secret) == (KEY, SECRET):
        assert not isinstance(outcome, SmsApiError)
    elif not key.strip() or not secret.strip():
        assert isinstance(outcome, InvalidRequestError)  # nothing sent
    else:
        assert isinstance(outcome, AuthenticationError), outcome
    check_log_since(mark)


@FUZZ
@pinned(call="no-such-call", fmt=".xml", body=b"", auth="good")  # once failed only when drawn
@given(
    call=st.sampled_from(CALLS),
    fmt=st.sampled_from([".json", ".xml"]),
    body=st.one_of(
        st.binary(max_size=200),
        st.sampled_from([b"message=\xff\xfe&to=61491570151", b"to=%FF%FE", b"%", b"a=\xc3", b"x" * 5000]),
    ),
    auth=st.sampled_from(["missing", "good", "wrong-secret", "garbage", "bearer", "not-base64-utf8"]),
)
def test_raw_malformed_bodies_and_auth_get_a_documented_error_never_a_500(
    call: str, fmt: str, body: bytes, auth: str
) -> None:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if auth != "missing":
        headers["authorization"] = {
            "good": httpx.BasicAuth(KEY, SECRET)._auth_header,
            "wrong-secret": httpx.BasicAuth(KEY, "nope")._auth_header,
            "garbage": "Basic !!!",
            "bearer": "Bearer abc",
            "not-base64-utf8": "Basic /w==",  # base64 of b"\xff"
        }[auth]

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=SANDBOX.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as raw:
            return await raw.post(f"/{call}{fmt}", content=body, headers=headers)

    response = run(go)
    assert response.status_code in DOCUMENTED_STATUSES
    if fmt == ".json":  # every answer to a .xml path is XML, a 404 for an unknown call too
        code = response.json()["error"]["code"]
    else:
        code = response.text.split("<code>", 1)[1].split("</code>", 1)[0]
    assert code in DOCUMENTED_CODES
    if auth == "missing":
        assert (response.status_code, code) == (401, "AUTH_FAILED_NO_DATA")
    elif auth != "good":
        assert (response.status_code, code) == (401, "AUTH_FAILED")
    elif b"\xff" in body or b"%FF" in body or body == b"a=\xc3":
        assert (response.status_code, code) == (400, "FIELD_INVALID")


@pytest.mark.parametrize("where", ["call", "send"])
def test_text_that_is_not_valid_unicode_is_refused_locally_with_invalid_request_error(where: str) -> None:
    """Lone surrogates (e.g. from bytes decoded with ``surrogateescape``) cannot go on the wire as
    UTF-8: the client says so with ``InvalidRequestError``, like any other bad value."""
    mark = last_id()

    async def go() -> None:
        async with client() as c:
            if where == "call":
                await c.call("send-sms", message="caf\udce9", to="61491570151")
            else:
                await c.sms.send(message="caf\udce9", to="61491570151")

    with pytest.raises(InvalidRequestError):
        run(go)
    check_log_since(mark)  # nothing reached the sandbox
    assert last_id() == mark


def test_values_the_wire_cannot_carry_are_refused_locally() -> None:
    """The encoder refuses what it cannot send faithfully, before any request."""
    mark = last_id()

    async def go() -> list[object]:
        out: list[object] = []
        async with client() as c:
            for value in (math.nan, math.inf, object(), b"\xff", datetime(2030, 1, 1)):
                try:
                    out.append(await c.call("get-sms", message_id=value))
                except SmsApiError as exc:
                    out.append(exc)
        return out

    outcomes = run(go)
    assert all(isinstance(o, SmsApiError) for o in outcomes), outcomes
    check_log_since(mark)
