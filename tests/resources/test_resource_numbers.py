"""client.numbers: requests sent and VirtualNumber / SenderIds built from the recorded payloads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx
from support import api_response, call_name, failure, form_of, serving, success

from smsapi_async import (
    AsyncSmsClient,
    InvalidFieldError,
    InvalidRequestError,
    OutcomeUnknownError,
    UnknownCallError,
)
from smsapi_async.models import SenderIds, VirtualNumber

pytestmark = pytest.mark.anyio

MakeClient = Callable[..., AsyncSmsClient]


async def test_list_sends_filter_and_parses_json_and_xml_twins(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    json_client = make_client(serving("postman/get-numbers.json", seen))
    xml_client = make_client(serving("postman/get-numbers.xml", []), response_format="xml")

    json_page = await json_client.numbers.list().first_page()
    xml_page = await xml_client.numbers.list().first_page()

    assert call_name(seen[0]) == "get-numbers"
    assert form_of(seen[0]) == {"filter": "owned", "page": "1", "max": "100"}
    assert (
        json_page.items
        == xml_page.items
        == (
            VirtualNumber(
                number="61436446702",
                price=Decimal(25),
                auto_renew=True,
                next_charge=date(2020, 7, 15),
                status="active",
            ),
        )
    )
    assert json_page.totals == xml_page.totals == {"numbers_total": 1}


async def test_list_available_reads_price_only_items_of_2015(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("captured-2015/get-numbers.json", seen))

    numbers = await client.numbers.list(filter="available").to_list()

    assert form_of(seen[0])["filter"] == "available"
    assert [(n.number, n.price) for n in numbers] == [
        ("61428427232", Decimal(17)),
        ("61522265444", Decimal(17)),
        ("61454567890", Decimal(17)),
        ("61444666777", Decimal(27)),
    ]
    assert all(n.next_charge is None and not n.auto_renew and n.status == "" for n in numbers)


async def test_list_rejects_unknown_filter_before_any_call(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/get-numbers.json", seen))
    with pytest.raises(InvalidRequestError, match="filter"):
        client.numbers.list(filter="mine")  # type: ignore[arg-type]
    assert seen == []


async def test_get_sends_number_and_parses_json_and_xml_twins(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    json_client = make_client(serving("postman/get-number.json", seen))
    xml_client = make_client(serving("postman/get-number.xml", []), response_format="xml")

    from_json = await json_client.numbers.get("61418279031")
    from_xml = await xml_client.numbers.get("61418279031")

    assert call_name(seen[0]) == "get-number"
    assert form_of(seen[0]) == {"number": "61418279031"}
    assert (
        from_json
        == from_xml
        == VirtualNumber(
            number="61418279031",
            price=Decimal(25),
            auto_renew=True,
            next_charge=date(2020, 7, 24),
            status="active",
        )
    )


async def test_get_reads_an_inactive_number_with_null_next_charge(make_client: MakeClient) -> None:
    client = make_client(serving("captured-2015/get-number.json", []))
    number = await client.numbers.get("+61422222222")
    assert (number.status, number.next_charge, number.auto_renew, number.price) == (
        "inactive",
        None,
        True,
        Decimal(17),
    )


async def test_get_of_a_number_not_leased_is_invalid_field(make_client: MakeClient) -> None:
    client = make_client(lambda request: failure("FIELD_INVALID", "This number is not leased to you."))
    with pytest.raises(InvalidFieldError, match="not leased"):
        await client.numbers.get("61400000000")


@pytest.mark.parametrize(
    ("path", "number", "expected_form"),
    [
        (
            "postman/lease-number.json",
            "61417861086",
            {"number": "61417861086", "forward_url": "https://x.test/in"},
        ),
        ("postman/lease-number.random.json", None, {"forward_url": "https://x.test/in"}),
    ],
)
async def test_lease_sends_number_and_forward_url(
    make_client: MakeClient, path: str, number: str | None, expected_form: dict[str, str]
) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving(path, seen))

    leased = await client.numbers.lease(number, forward_url="https://x.test/in")

    assert call_name(seen[0]) == "lease-number"
    assert form_of(seen[0]) == expected_form
    assert (leased.price, leased.next_charge, leased.auto_renew, leased.status) == (
        Decimal(25),
        date(2020, 7, 24),
        True,
        "active",
    )
    assert leased.number == (number or "61418279031")


async def test_lease_of_an_unavailable_number_is_invalid_field(make_client: MakeClient) -> None:
    client = make_client(
        lambda request: api_response("captured-2015/lease-number.error-field-invalid.json", 400)
    )
    with pytest.raises(InvalidFieldError) as caught:
        await client.numbers.lease("0422222213")
    assert caught.value.description == "This number is not available for lease."


async def test_lease_is_never_resent_after_a_server_error(
    api: respx.MockRouter, api_client: Callable[..., AsyncSmsClient]
) -> None:
    lease = api.post("/lease-number.json").respond(502, text="bad gateway")
    with pytest.raises(OutcomeUnknownError):
        await api_client().numbers.lease()
    assert lease.call_count == 1


@pytest.mark.parametrize("response_format", ["json", "xml"])
async def test_edit_options_sends_only_given_options(make_client: MakeClient, response_format: str) -> None:
    seen: list[httpx.Request] = []
    client = make_client(
        serving(f"postman/edit-number-options.{response_format}", seen), response_format=response_format
    )

    result = await client.numbers.edit_options(
        "61418279031",
        forward_email=["a@x.test", "b@x.test"],
        forward_sms="61429703715",
        forward_url="https://yoururl.domain.com",
        list_id=4214121,
        welcome_message="Welcome",
        members_message="Welcome back",
    )

    assert result is None
    assert call_name(seen[0]) == "edit-number-options"
    assert form_of(seen[0]) == {
        "number": "61418279031",
        "forward_email": "a@x.test,b@x.test",
        "forward_sms": "61429703715",
        "forward_url": "https://yoururl.domain.com",
        "list_id": "4214121",
        "welcome_message": "Welcome",
        "members_message": "Welcome back",
    }


async def test_edit_options_validates_before_any_call(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/edit-number-options.json", seen))
    with pytest.raises(InvalidRequestError):
        await client.numbers.edit_options("")
    with pytest.raises(InvalidRequestError):
        await client.numbers.edit_options("61418279031", list_id=0)
    assert seen == []


async def test_sender_ids_reads_the_caller_ids_block(
    api: respx.MockRouter, api_client: Callable[..., AsyncSmsClient]
) -> None:
    body: dict[str, Any] = {
        "caller_ids": {
            "Virtual Number": [61418279031],
            "Business Name": ["ACME"],
            "Mobile Number": ["+61400000001", 61400000002],
        }
    }
    route = api.post("/get-sender-ids.json").mock(return_value=success(**body))

    ids = await api_client().numbers.sender_ids()

    assert form_of(route.calls.last.request) == {}
    assert ids == SenderIds(
        virtual_numbers=("61418279031",),
        business_names=("ACME",),
        mobile_numbers=("61400000001", "61400000002"),
    )
    assert ids.extra == body


def test_sender_ids_tolerates_an_unknown_shape() -> None:
    assert SenderIds.from_api({"sender_ids": ["x"]}) == SenderIds(
        virtual_numbers=(), business_names=(), mobile_numbers=()
    )


async def test_sender_ids_unknown_call(make_client: MakeClient) -> None:
    client = make_client(lambda request: failure("NOT_IMPLEMENTED", "Unknown method", 404))
    with pytest.raises(UnknownCallError):
        await client.numbers.sender_ids()
