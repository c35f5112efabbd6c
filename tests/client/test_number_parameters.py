"""Every phone-number parameter goes through one checker: ASCII digits after stripping ``+``, spaces,
dashes, dots and brackets, sent as plain digits; anything else is refused before a request.

The audit found ``lists.optout``, ``delete_contact``, ``get_contact``, ``numbers.get/lease/
edit_options``, ``keywords.add/edit/list``, ``email.add(number=)`` and ``format_number`` sending
fullwidth or Arabic-Indic digits, NUL and right-to-left marks as given, and sending
``+61 418 279 031`` as typed into fields the published contract types as integers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import Recorder, form_of, success

from smsapi_async import AsyncSmsClient, InvalidRequestError, SmsApiError

pytestmark = pytest.mark.anyio

Call = Callable[[AsyncSmsClient, str], Awaitable[Any]]

# (the method, the form field the number goes in)
CALLS: dict[str, tuple[Call, str]] = {
    "lists.optout": (lambda c, n: c.lists.optout(5, n), "msisdn"),
    "lists.delete_contact": (lambda c, n: c.lists.delete_contact(5, n), "msisdn"),
    "lists.get_contact": (lambda c, n: c.lists.get_contact(5, n), "msisdn"),
    "lists.add_contact": (lambda c, n: c.lists.add_contact(5, n), "msisdn"),
    "lists.edit_contact": (lambda c, n: c.lists.edit_contact(5, n, first_name="Ann"), "msisdn"),
    "numbers.get": (lambda c, n: c.numbers.get(n), "number"),
    "numbers.lease": (lambda c, n: c.numbers.lease(n), "number"),
    "numbers.edit_options": (lambda c, n: c.numbers.edit_options(n, forward_url="https://x.test/"), "number"),
    "numbers.edit_options forward_sms": (
        lambda c, n: c.numbers.edit_options("61400000100", forward_sms=[n]),
        "forward_sms",
    ),
    "keywords.add": (lambda c, n: c.keywords.add("NEWS", n), "number"),
    "keywords.edit": (lambda c, n: c.keywords.edit("NEWS", n), "number"),
    "keywords.list": (lambda c, n: c.keywords.list(number=n).first_page(), "number"),
    "email.add": (lambda c, n: c.email.add("a@b.co", number=n), "number"),
    "sms.format_number": (lambda c, n: c.sms.format_number(msisdn=n, countrycode="AU"), "msisdn"),
    "sms.delivery_status": (lambda c, n: c.sms.delivery_status(1, n), "msisdn"),
    "sms.contact_stats": (lambda c, n: c.sms.contact_stats(n).first_page(), "mobile"),
    "sms.user_sent": (lambda c, n: c.sms.user_sent(start=START, end=END, msisdn=n).first_page(), "msisdn"),
}

END = datetime.now(timezone.utc)
START = END - timedelta(days=1)

HOSTILE = [
    "\uff16\uff11\uff14\uff11\uff18\uff12\uff17\uff19\uff10\uff13\uff11",  # fullwidth digits
    "\u0666\u0661\u0664\u0661\u0668\u0662\u0667\u0669\u0660\u0663\u0661",  # Arabic-Indic digits
    "61418\x00279031",  # NUL
    "61418\u200f279031",  # a right-to-left mark
    "61418\n279031",  # a line break is not a space
    "61 418 279 031x",
    "",
    "12",
]


def answered() -> tuple[Recorder, Callable[..., AsyncSmsClient]]:
    handler = Recorder(success())

    def make() -> AsyncSmsClient:
        return AsyncSmsClient(
            "k", "s", transport=httpx.MockTransport(handler), rate_limit=None, max_retries=0
        )

    return handler, make


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("typed", HOSTILE)
async def test_a_number_that_is_not_one_is_refused_before_any_request(name: str, typed: str) -> None:
    call, _ = CALLS[name]
    handler, make = answered()
    async with make() as client:
        with pytest.raises(InvalidRequestError):
            await call(client, typed)
    assert handler.requests == []


@pytest.mark.parametrize("name", list(CALLS))
async def test_a_formatted_number_is_sent_as_plain_digits(name: str) -> None:
    call, key = CALLS[name]
    handler, make = answered()
    async with make() as client:
        # the canned answer may not fit the call's model: the request is what counts
        with contextlib.suppress(SmsApiError, AttributeError, TypeError):
            await call(client, "+61 (418) 279-031")
    assert form_of(handler.requests[0])[key] == "61418279031"


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(name=st.sampled_from(list(CALLS)), typed=st.text(max_size=20))
async def test_whatever_is_typed_only_ascii_digits_are_ever_sent(name: str, typed: str) -> None:
    call, key = CALLS[name]
    handler, make = answered()
    async with make() as client:
        try:
            await call(client, typed)
        except InvalidRequestError:
            assert handler.requests == []
            return
        except Exception:  # the canned answer may not fit the call's model
            pass
    sent = form_of(handler.requests[0])[key]
    assert sent.isascii()
    assert sent.isdigit()
    assert 6 <= len(sent) <= 15
