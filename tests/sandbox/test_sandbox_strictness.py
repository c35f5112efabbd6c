"""Strict where the API is strict (finding 5 of the probe), so a client's bug shows in the sandbox rather
than in production: integer fields took formatted numbers (``get-number`` with ``+61 400 000 000``
answered 200), keyword ``status`` took any case and ``active``/``inactive``, ``get-user-sms-responses``
took and ignored ``mobile``, ``edit-list-member`` answered ``NOT_FOUND`` for an invalid mobile, any
8-15 digits passed as an international number, and an unleased numeric sender was accepted. The
recorded-traffic differences are checked here too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from smsapi_async.sandbox import AccountConfig, Sandbox, SandboxConfig
from smsapi_async.sandbox._contract import contract
from smsapi_async.sandbox.handlers import HANDLERS

pytestmark = pytest.mark.anyio
AUTH = ("sandbox-key", "sandbox-secret")
WRONG_TYPE = "has wrong type, expected type - numeric"


class Api:
    def __init__(self, sandbox: Sandbox, http: httpx.AsyncClient) -> None:
        self.sandbox, self.http = sandbox, http

    async def answer(self, call: str, **params: Any) -> tuple[int, dict[str, Any]]:
        response = await self.http.post(f"/{call}.json", data={k: str(v) for k, v in params.items()})
        body: dict[str, Any] = response.json()
        return response.status_code, body

    async def ok(self, call: str, **params: Any) -> dict[str, Any]:
        status, body = await self.answer(call, **params)
        assert status == 200, (call, params, body)
        return body

    async def fails(self, call: str, code: str, **params: Any) -> str:
        status, body = await self.answer(call, **params)
        assert (status, body["error"]["code"]) == (400, code), (call, params, body)
        return str(body["error"]["description"])


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    config = SandboxConfig(
        accounts=(AccountConfig(numbers=("61400000000",), sender_ids=("61491570157", "MyShop")),),
        rate_limit=0,
    )
    sandbox = Sandbox(config)
    transport = httpx.ASGITransport(sandbox.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://s", auth=AUTH) as http:
        yield Api(sandbox, http)


async def test_5_a_formatted_number_in_an_integer_field_is_refused_as_the_api_refuses_it(api: Api) -> None:
    description = await api.fails("get-number", "FIELD_INVALID", number="+61 400 000 000")
    assert description == f'Field "number" {WRONG_TYPE}'
    for formatted in ("61 400 000 000", "(04) 0000 0000", "61-400-000-000", "6.14e10", "61400000000.0"):
        await api.fails("get-number", "FIELD_INVALID", number=formatted)
    # as recorded: the 2015 Ruby client's get-number with "+61422222222" was served
    assert (await api.ok("get-number", number="+61400000000"))["number"] == 61400000000


async def test_5_every_integer_field_of_every_call_refuses_a_non_integer(api: Api) -> None:
    checked = 0
    for call, spec in contract().items():
        if call not in HANDLERS:
            continue
        for name, rule in spec["params"].items():
            if rule["type"] != "integer":
                continue
            status, body = await api.answer(call, **{name: "12 34"})
            assert (status, body["error"]) == (
                400,
                {"code": "FIELD_INVALID", "description": f'Field "{name}" {WRONG_TYPE}'},
            ), (call, name)
            checked += 1
    assert checked > 60


async def test_5_a_decimal_field_refuses_text_and_takes_numbers(api: Api) -> None:
    for bad in ("ten", "1,5", "1.5.0", "0x10"):
        await api.fails("add-client", "FIELD_INVALID", sms_margin=bad)


@pytest.mark.parametrize("status", ["open", "closed", "OPEN", "active", "inactive", "Opened"])
async def test_5_keyword_status_takes_the_published_values_only(api: Api, status: str) -> None:
    await api.ok("add-keyword", keyword="JOIN", number="61400000000")
    description = await api.fails(
        "edit-keyword", "FIELD_INVALID", keyword="JOIN", number="61400000000", status=status
    )
    assert description == "Field 'status' must be one of: Open, Closed"


async def test_5_keyword_status_open_and_closed(api: Api) -> None:
    await api.ok("add-keyword", keyword="JOIN", number="61400000000")
    closed = await api.ok("edit-keyword", keyword="JOIN", number="61400000000", status="Closed")
    opened = await api.ok("edit-keyword", keyword="JOIN", number="61400000000", status="Open")
    assert (closed["status"], opened["status"]) == ("closed", "open")


async def test_5_a_parameter_of_other_calls_is_refused_where_it_would_be_ignored(api: Api) -> None:
    description = await api.fails("get-user-sms-responses", "FIELD_INVALID", mobile="61491570151")
    assert description == "Field 'mobile' is not a parameter of get-user-sms-responses"
    await api.fails("get-sms", "FIELD_INVALID", message_id=1, msisdn="61491570151")
    # a name no call takes is ignored, as the API ignores it (the 2015 Ruby client sent "enddate")
    await api.ok("get-user-sms-responses", enddate="2015-04-20 23:59:59", start="2015-04-13 00:00:00")
    # the documented filter is served
    await api.ok("get-user-sms-responses", number="61400000000")


async def test_5_edit_list_member_with_an_invalid_mobile_is_bad_mobile(api: Api) -> None:
    listed = await api.ok("add-list", name="Members")
    await api.ok("add-to-list", list_id=listed["id"], msisdn="61491570151")
    await api.fails("edit-list-member", "BAD_MOBILE", list_id=listed["id"], msisdn="12345")
    await api.fails("edit-list-member", "BAD_MOBILE", list_id=listed["id"], msisdn="61900000000")
    await api.fails(
        "edit-list-member", "NOT_FOUND", list_id=listed["id"], msisdn="61491570152"
    )  # valid, absent
    await api.ok("edit-list-member", list_id=listed["id"], msisdn="61491570151", first_name="Ann")


@pytest.mark.parametrize(
    "number",
    [
        "15551234567",  # US: no area code 555
        "61900000000",  # Australia: 9 starts no mobile or landline
        "4400000000000",  # UK: too long for any UK number
        "999123456789",  # no country has calling code 999
    ],
)
async def test_5_numbers_follow_real_numbering_plans(api: Api, number: str) -> None:
    listed = await api.ok("add-list", name="Plan")
    await api.fails("add-to-list", "BAD_MOBILE", list_id=listed["id"], msisdn=number)
    await api.fails("send-sms", "RECIPIENTS_ERROR", message="hi", to=number)


@pytest.mark.parametrize(
    "number", ["61491570151", "447400123456", "12015550123", "64211234567", "33612345678"]
)
async def test_5_real_numbers_pass(api: Api, number: str) -> None:
    sent = await api.ok("send-sms", message="hi", to=number)
    assert sent["recipients"] == 1


async def test_5_a_numeric_sender_must_be_leased_or_approved(api: Api) -> None:
    description = await api.fails(
        "send-sms", "BAD_CALLER_ID", message="hi", to="61491570151", **{"from": "61491570199"}
    )
    assert "not a number leased by or approved for this account" in description
    await api.ok("send-sms", message="hi", to="61491570151", **{"from": "61400000000"})  # leased
    await api.ok("send-sms", message="hi", to="61491570151", **{"from": "+61 491 570 157"})  # approved mobile
    await api.ok("send-sms", message="hi", to="61491570151", **{"from": "MyShop"})  # alphanumeric
    senders = await api.ok("get-sender-ids")
    assert senders["caller_ids"] == {
        "Virtual Number": [61400000000],
        "Business Name": ["MyShop"],
        "Mobile Number": [61491570157],
    }


async def test_recorded_custom_field_values_that_are_numbers_are_numbers(api: Api) -> None:
    """A recorded ``get-contact`` has ``{"name": "Postcode", "value": 2758}``; a value with a leading
    zero stays text (read as a number it would lose its zero; no recording shows it)."""
    listed = await api.ok("add-list", name="Fields", field_1="Postcode", field_2="Code", field_3="City")
    await api.ok(
        "add-to-list",
        list_id=listed["id"],
        msisdn="61491570151",
        field_1="2758",
        field_2="0800",
        field_3="Ryde",
    )
    contact = await api.ok("get-contact", list_id=listed["id"], msisdn="61491570151")
    assert contact["fields"] == {"Postcode": 2758, "Code": "0800", "City": "Ryde"}


async def test_recorded_money_and_empty_pages_as_the_recordings_show_them(api: Api) -> None:
    """Whole amounts print as integers and an empty page has no items key, as in every recording
    (``"price":17``, ``"amount":6``, ``"balance":0``; ``get-user-sms-responses`` with no rows)."""
    numbers = await api.ok("get-numbers", filter="available", max=1)
    assert isinstance(numbers["numbers"][0]["price"], int)
    empty = await api.ok("get-user-sms-responses")
    assert "responses" not in empty
    assert empty["total"] == 0
