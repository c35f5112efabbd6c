"""The hand-written samples of the old documentation (tests/fixtures/examples/legacy-docs/).

They are not real responses: the JSON has unquoted keys, most XML is not well-formed, and none has
an ``error`` block. So (1) served as they are, the client refuses them with ResponseParseError, and
(2) once repaired the way a reader would, the models still read their older field spellings
(``credits_based``, ``phone``, ``members_message``, ``has_credit_card: no``, numbers as strings,
money as text, a one-item list as a bare element).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
from support import example_bytes, success

from smsapi_async import AsyncSmsClient, ResponseParseError
from smsapi_async._parsing import parse_body
from smsapi_async.models import Client, Keyword, Transaction, VirtualNumber

MakeClient = Callable[..., AsyncSmsClient]

LEGACY_JSON = [
    "legacy-docs/add-client.json",
    "legacy-docs/edit-client.json",
    "legacy-docs/get-client.json",
    "legacy-docs/get-clients.json",
    "legacy-docs/get-transactions.json",
    "legacy-docs/get-number.smstech.json",
    "legacy-docs/lease-number.smstech.json",
    "legacy-docs/edit-keyword.smstech.json",
]
LEGACY_XML = [
    "legacy-docs/edit-client.xml",
    "legacy-docs/get-client.xml",
    "legacy-docs/get-clients.xml",
    "legacy-docs/get-transactions.xml",
    "legacy-docs/get-number.smstech.xml",
]


def repaired_json(relative: str) -> dict[str, Any]:
    """Quote the bare keys (and the bare ``no``) of a legacy JSON sample, then parse it."""
    text = example_bytes(relative).decode()
    text = re.sub(r"(?m)^(\s*)([A-Za-z_]+):", r'\1"\2":', text)
    text = re.sub(r"(?m)([{,]\s*)([A-Za-z_]+):", r'\1"\2":', text)
    text = re.sub(r":\s*no\b", ': "no"', text)
    data = json.loads(text)
    assert isinstance(data, dict)
    return data


def repaired_xml(relative: str) -> dict[str, Any]:
    """Fix the run-together declaration and the mismatched tag, then parse like a response."""
    text = example_bytes(relative).decode()
    text = text.replace('<?xmlversion="1.0"encoding="UTF-8"?>', '<?xml version="1.0" encoding="UTF-8"?>')
    text = text.replace("<price>29</status>", "<price>29</price>")
    return parse_body(text.encode(), "xml", status_code=200, call=None)


@pytest.mark.anyio
@pytest.mark.parametrize("relative", LEGACY_JSON + LEGACY_XML)
async def test_served_as_is_they_are_refused(make_client: MakeClient, relative: str) -> None:
    response_format = relative.rsplit(".", 1)[-1]
    client = make_client(
        lambda request: httpx.Response(200, content=example_bytes(relative)), response_format=response_format
    )
    with pytest.raises(ResponseParseError):
        await client.call("get-client")


TERRY = {
    "id": 56423,
    "name": "Terry's Repairs",
    "contact": "Terry Richards",
    "email": "terry@example.com",
    "currency": "AUD",
    "timezone": "Australia/Sydney",
    "created": datetime(2013, 2, 14, 13, 45, 22, tzinfo=timezone.utc),
    "client_pays": False,
    "sms_margin": Decimal("3.1"),
    "apisecret": "YyYD2lad*88",
    "recharge_amount": Decimal(20),
    "total_lists": 34,
    "total_sms": 575665,
    "total_contacts": 542,
    "total_spend": Decimal("450.464"),
    "total_revenue": Decimal("234.12"),
    "credit_based": False,
    "balance": Decimal("43.56"),
    "trial": False,
    "has_credit_card": False,
}


def assert_terry(account: Client, msisdn: str) -> None:
    for name, value in TERRY.items():
        assert getattr(account, name) == value, name
    assert account.msisdn == msisdn
    assert account.apikey is not None
    assert account.apikey.startswith("2e24")
    assert "YyYD2lad" not in repr(account)
    assert "credits_based" not in account.extra


@pytest.mark.parametrize("relative", ["legacy-docs/add-client.json", "legacy-docs/get-client.json"])
def test_client_samples(relative: str) -> None:
    assert_terry(Client.from_api(repaired_json(relative)), "61491570156")


def test_edit_client_sample_uses_phone() -> None:
    from_json = Client.from_api(repaired_json("legacy-docs/edit-client.json"))
    assert_terry(from_json, "02 9999 7777")
    assert Client.from_api(repaired_xml("legacy-docs/edit-client.xml")) == from_json


def test_get_client_xml_sample_matches_json_but_for_the_double_escaped_name() -> None:
    from_xml = Client.from_api(repaired_xml("legacy-docs/get-client.xml"))
    assert from_xml.name == "Terry&#39;s Repairs"  # the sample escapes the apostrophe twice
    from_json = Client.from_api(repaired_json("legacy-docs/get-client.json"))
    assert from_xml == Client.from_api(
        {**repaired_json("legacy-docs/get-client.json"), "name": from_xml.name}
    )
    assert from_json.name == "Terry's Repairs"


@pytest.mark.anyio
@pytest.mark.parametrize("response_format", ["json", "xml"])
async def test_get_clients_sample_through_the_paginator(
    make_client: MakeClient, response_format: str
) -> None:
    if response_format == "json":
        body = repaired_json("legacy-docs/get-clients.json")
        handler: Callable[[httpx.Request], httpx.Response] = lambda request: success(**body)  # noqa: E731
    else:
        xml = example_bytes("legacy-docs/get-clients.xml").replace(
            b"</response>", b"<error><code>SUCCESS</code><description>OK</description></error></response>"
        )
        handler = lambda request: httpx.Response(200, content=xml)  # noqa: E731
    client = make_client(handler, response_format=response_format)

    page = await client.resellers.clients().first_page()

    assert (page.count, page.totals) == (1, {"clients_total": 24})
    assert len(page.items) == 1  # in XML a lone <clients> element, not an <item> list
    assert_terry(page.items[0], "61491570156")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(
            lambda: repaired_json("legacy-docs/get-transactions.json")["transactions"][0], id="json"
        ),
        pytest.param(lambda: repaired_xml("legacy-docs/get-transactions.xml")["transactions"], id="xml"),
    ],
)
def test_transaction_sample_with_message_details(data: Callable[[], dict[str, Any]]) -> None:
    entry = Transaction.from_api(data())
    assert entry == Transaction(
        id=2423,
        user_id=0,
        description="Message Send",
        amount=Decimal("-0.173"),
        balance_standing=Decimal("4.114"),
        created=datetime(2010, 1, 21, 2, 25, 54, tzinfo=timezone.utc),
        type_id=0,
        type_description="",
        message_id=28391,
        message_status="Sent",
        message_cost=Decimal("0.173"),
        message_revenue=Decimal("0.081"),
    )


@pytest.mark.parametrize(
    ("load", "expected_next_charge", "forward_url"),
    [
        (
            lambda: repaired_json("legacy-docs/get-number.smstech.json"),
            date(2013, 8, 14),
            "http://example.com/sms",
        ),
        (
            lambda: repaired_xml("legacy-docs/get-number.smstech.xml"),
            date(2013, 8, 14),
            "http://example.com/sms",
        ),
        (
            lambda: repaired_json("legacy-docs/lease-number.smstech.json"),
            date(2014, 9, 25),
            "https://example.com/sms",
        ),
    ],
)
def test_number_samples_with_text_numbers_and_forward_url(
    load: Callable[[], dict[str, Any]], expected_next_charge: date, forward_url: str
) -> None:
    number = VirtualNumber.from_api(load())
    assert (number.price, number.auto_renew, number.status) == (Decimal(29), True, "active")
    assert number.next_charge == expected_next_charge
    assert number.forward_url == forward_url
    assert number.number.startswith("614915701")


def test_keyword_sample_with_members_message() -> None:
    keyword = Keyword.from_api(repaired_json("legacy-docs/edit-keyword.smstech.json"))
    assert keyword.members_message == "Thanks for your continued support"
    assert keyword.forward_sms == ("61491570157", "61491570158")
    assert keyword.forward_email == ("news@example.com", "mike@example.com")
    assert (keyword.status, keyword.number, keyword.billing_date) == (
        "active",
        "61491570156",
        date(2013, 5, 21),
    )
    assert keyword.extra == {}
