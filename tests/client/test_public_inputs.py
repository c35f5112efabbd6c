"""Bad input to public methods: refused with InvalidRequestError before any call is spent.

The property test drives every public method with arbitrary arguments, against the sandbox: either
the method refuses them with ``InvalidRequestError`` and sends nothing, or what it sends is a
request the sandbox accepts as well formed (it may still say the object does not exist).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import Recorder, success

from smsapi_async import AsyncPaginator, AsyncSmsClient, InvalidFieldError, InvalidRequestError, SmsApiError
from smsapi_async.testing import sandbox_client

NOW = datetime.now(timezone.utc)
URL = "https://example.com/hook"
GOOD: dict[str, list[Any]] = {
    "message": ["Hello there"],
    "to": ["61400000001", ["61400000001", "61400000002"]],
    "from_": ["Shop", "61400000000"],
    "countrycode": ["AU"],
    "send_at": [NOW + timedelta(days=1)],
    "validity": [0, 60],
    "replies_to_email": ["a@example.com"],
    "tracked_link_url": [URL],
    "dlr_callback": [URL],
    "reply_callback": [URL],
    "link_hits_callback": [URL],
    "forward_url": [URL],
    "file_url": ["https://example.com/contacts.csv"],
    "from_shared": [True, False],
    "include_original": [True],
    "activate": [True],
    "client_pays": [False],
    "max_parts": [2],
    "message_id": [1, 10**18 - 1],
    "list_id": [1],
    "client_id": [1],
    "keyword_id": [1],
    "transaction_id": [1],
    "msisdn": ["61400000001"],
    "mobile": ["61400000001"],
    "number": ["61400000000"],
    "start": [NOW - timedelta(days=1)],
    "end": [NOW],
    "sort_field": ["message_id"],
    "order": ["asc"],
    "page_size": [10],
    "page": [1],
    "start_page": [1],
    "limit": [3],
    "keyword": ["HELLO"],
    "keywords": ["both"],
    "message_type": ["all"],
    "optouts": ["include"],
    "delivery": ["delivered"],
    "name": ["Guests"],
    "fields": [{"field_1": "Email"}],
    "first_name": ["Ann"],
    "last_name": ["Lee"],
    "email": ["a@example.com"],
    "max_sms": [2],
    "reference": ["campaign 7"],
    "welcome_message": ["Welcome"],
    "members_message": ["Welcome back"],
    "forward_email": [["a@example.com"]],
    "forward_sms": [["61400000002"]],
    "filter": ["owned"],
    "password": ["pw-123456"],
    "contact": ["Ann Lee"],
    "timezone": ["Australia/Sydney"],
    "sms_margin": [Decimal("1.5")],
    "number_margin": [1],
    "api_secret": ["s3cret"],
    "payment_method": ["variable"],
    "fixed_top_up_amount": [None],
    "status": [None],
}

HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.decimals(),
    st.text(max_size=12),
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2),
    st.binary(max_size=6),
    st.lists(st.text(max_size=4), max_size=2),
    st.dictionaries(st.text(max_size=8), st.text(max_size=4), max_size=2),
    st.datetimes(),
    st.just("javascript:alert(1)"),
    st.just("https://bücher.example/ü"),
)

ABOUT_STATE = ("not leased to you", "not available for lease")
"""FIELD_INVALID descriptions about the account's state rather than the request's form."""

SKIPPED = {"reply_stream", "wait_for_delivery", "send_bulk", "for_client"}
"""Methods that wait, stream or make no call of their own: test_public_inputs_more.py drives them."""


def public_methods() -> list[tuple[str, str]]:
    client = AsyncSmsClient("k", "s")
    found = []
    for area in ("sms", "account", "lists", "numbers", "keywords", "email", "resellers"):
        for name, _ in inspect.getmembers(getattr(client, area), inspect.ismethod):
            if not name.startswith("_") and name not in SKIPPED:
                found.append((area, name))
    return found


METHODS = public_methods()


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
    area, name = draw(st.sampled_from(METHODS))
    method = getattr(getattr(AsyncSmsClient("k", "s"), area), name)
    kwargs: dict[str, Any] = {}
    for param in inspect.signature(method).parameters.values():
        choice = draw(st.sampled_from(["good", "good", "hostile", "omit"]))
        if choice == "omit" and param.default is not inspect.Parameter.empty:
            continue
        if choice == "good" and param.name in GOOD:
            kwargs[param.name] = draw(st.sampled_from(GOOD[param.name]))
        else:
            kwargs[param.name] = draw(HOSTILE)
    return area, name, kwargs


async def attempt(area: str, name: str, kwargs: dict[str, Any]) -> None:
    async with sandbox_client() as harness:
        method: Callable[..., Any] = getattr(getattr(harness.client, area), name)
        try:
            await run(method(**kwargs))
        except InvalidRequestError:
            assert not harness.sandbox.requests, f"{area}.{name} refused {kwargs!r} after sending"
        except InvalidFieldError as exc:
            if any(reason in str(exc.description) for reason in ABOUT_STATE):
                return  # well formed, but about the account's state (hostile text as a number)
            raise AssertionError(
                f"{area}.{name}({kwargs!r}) sent a request the sandbox refused: {exc}"
            ) from exc
        except SmsApiError:
            pass  # well formed, but e.g. about an object that does not exist


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(call=calls())
def test_every_public_method_refuses_bad_arguments_before_sending(
    backend: str, call: tuple[str, str, dict[str, Any]]
) -> None:
    anyio.run(attempt, *call, backend=backend)


# --- the audit's findings, one by one ---------------------------------------------------------------


def recording_client() -> tuple[AsyncSmsClient, Recorder]:
    handler = Recorder(success())
    return AsyncSmsClient("k", "s", transport=httpx.MockTransport(handler), rate_limit=None), handler


BAD_CALLS: dict[str, Callable[[AsyncSmsClient], Any]] = {
    "fields not a mapping": lambda c: c.lists.add("x", fields=[("field_1", "a")]),
    "fields with a non-text value": lambda c: c.lists.add("x", fields={"field_1": b"a"}),
    "reference not text": lambda c: c.keywords.add("HI", "61400000009", reference=5),
    "surrogate in file_url": lambda c: c.lists.import_contacts("https://x.example/\udce9.csv", list_id=1),
    "file_url not http": lambda c: c.lists.import_contacts("ftp://x.example/a.csv", list_id=1),
    "flag as text": lambda c: c.sms.send(message="hi", to="61400000001", from_shared="yes"),
    "flag as int": lambda c: c.keywords.add("HI", "61400000009", activate=1),
    "include_original as int": lambda c: c.sms.responses(message_id=1, include_original=1),
    "client_pays as text": lambda c: c.resellers.add_client("n", "e@x.co", "pw", "614", client_pays="no"),
    "id beyond 64 bits": lambda c: c.sms.get(10**30),
    "list id beyond 64 bits": lambda c: c.lists.optout(10**30, "61400000001"),
    "page beyond 64 bits": lambda c: c.sms.link_hits(1, page=2**64),
    "page_size True": lambda c: c.sms.link_hits(1, page_size=True),
    "javascript forward_url": lambda c: c.keywords.add(
        "HI", "61400000009", forward_url="javascript:alert(1)"
    ),
    "javascript number forward_url": lambda c: c.numbers.lease(forward_url="javascript:alert(1)"),
    "forward_email as bytes": lambda c: c.numbers.edit_options("61400000009", forward_email=b"a@b.co"),
    "margin NaN": lambda c: c.resellers.edit_client(1, sms_margin=float("nan")),
    "margin True": lambda c: c.resellers.edit_client(1, sms_margin=True),
    "api_secret not text": lambda c: c.resellers.add_client("n", "e@x.co", "pw", "614", api_secret=5),
    "first_name not text": lambda c: c.lists.add_contact(1, "61400000001", first_name=7),
    "params not a mapping": lambda c: c.call("get-balance", [("a", 1)]),
    "safe_to_retry as text": lambda c: c.call("get-balance", safe_to_retry="yes"),
    "validity beyond 72 hours": lambda c: c.sms.send(message="hi", to="61400000001", validity=10**6),
}


async def run(result: Any) -> Any:
    """Await a method's result: a coroutine, or a paginator's first page."""
    return await (result.first_page() if isinstance(result, AsyncPaginator) else result)


@pytest.mark.anyio
@pytest.mark.parametrize("case", list(BAD_CALLS))
async def test_7_bad_arguments_are_invalid_request_errors_and_nothing_is_sent(case: str) -> None:
    client, handler = recording_client()
    async with client:
        with pytest.raises(InvalidRequestError):
            await run(BAD_CALLS[case](client))
    assert handler.requests == []


@pytest.mark.parametrize(
    "options",
    [
        {"base_url": "https://bücher.example"},  # IDNA encodes it: fine
        {"base_url": "https://xn--bcher-kva.example"},
    ],
)
def test_7_an_internationalised_base_url_is_accepted_in_its_ascii_form(options: dict[str, Any]) -> None:
    assert AsyncSmsClient("k", "s", **options).base_url == "https://xn--bcher-kva.example"


@pytest.mark.parametrize(
    "base_url",
    ["https://exa mple.com", "https://\udce9.example", "https://a..b", "https://" + "a" * 70 + ".com", 5],
)
def test_7_a_base_url_that_is_not_a_url_is_an_invalid_request(base_url: Any) -> None:
    with pytest.raises(InvalidRequestError):
        AsyncSmsClient("k", "s", base_url=base_url)


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), "5", True, httpx.Timeout(5, read=-1)])
def test_7_a_nonsensical_timeout_is_refused(timeout: Any) -> None:
    with pytest.raises(InvalidRequestError, match="timeout"):
        AsyncSmsClient("k", "s", timeout=timeout)
