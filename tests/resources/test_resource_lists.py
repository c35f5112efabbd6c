"""client.lists: the request each method sends and the model it builds from the recorded payloads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from support import call_name, failure, form_of, serving, twin_results, utc

from smsapi_async import (
    AsyncSmsClient,
    InvalidFieldError,
    InvalidRequestError,
)
from smsapi_async.models import Contact, ContactList, ListFieldsUpdate

pytestmark = pytest.mark.anyio

MakeClient = Callable[..., AsyncSmsClient]


# --- get (get-list with members=none) -------------------------------------------------------------


async def test_get_sends_members_none_and_array_style(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/get-list.json", seen))

    details = await client.lists.get(4070887)

    assert call_name(seen[0]) == "get-list"
    assert form_of(seen[0]) == {"list_id": "4070887", "members": "none", "response_style": "array"}
    assert details == ContactList(
        id=4070887,
        name="My Test List",
        created=utc(2020, 5, 14, 3, 42, 31),
        members_active=3,
        members_total=5,
        fields={},
    )
    assert "page" not in details.extra


async def test_get_xml_twin_builds_the_same_list(make_client: MakeClient) -> None:
    from_json, from_xml = await twin_results(make_client, "postman/get-list", lambda c: c.lists.get(4070887))
    assert from_xml == from_json


async def test_get_reads_field_slots_in_array_style(make_client: MakeClient) -> None:
    client = make_client(serving("postman/get-list.response-style-array.json", []))
    details = await client.lists.get(4213644)
    assert details.fields == {
        "field_1": "Email",
        "field_2": "Postcode",
        "field_3": "ID",
        "field_4": "Handset",
    }
    assert details.members_total == 2


async def test_get_reads_the_2015_capture(make_client: MakeClient) -> None:
    client = make_client(serving("captured-2015/get-list.json", []))
    details = await client.lists.get(55314)
    assert (details.id, details.name, details.members_active, details.members_total) == (
        55314,
        "untitled list",
        1075,
        1075,
    )
    assert "members" in details.extra  # an older server ignoring members=none still parses


async def test_members_parses_json_and_xml_twins_alike(make_client: MakeClient) -> None:
    async def members(client: AsyncSmsClient) -> Any:
        return await client.lists.members(4070887).first_page()

    json_page, xml_page = await twin_results(make_client, "postman/get-list", members)
    assert json_page.items == xml_page.items
    assert json_page.totals == xml_page.totals == {"members_total": 5, "members_active": 3}
    assert json_page.items[0] == Contact(
        list_id=4070887,
        msisdn="61429625067",
        first_name="Ella",
        last_name="B",
        created_at=utc(2020, 6, 23, 23, 23, 1),
        status="active",
        fields={},
    )
    assert [member.first_name for member in json_page.items] == ["Ella", "Brad", "Paul"]


async def test_members_sends_the_status_filter(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("captured-2015/get-list.json", seen))

    page = await client.lists.members(55314, status="all", page_size=10).first_page()

    assert form_of(seen[0]) == {
        "list_id": "55314",
        "members": "all",
        "response_style": "array",
        "page": "1",
        "max": "10",
    }
    assert (page.number, page.count, len(page.items)) == (1, 108, 10)
    assert page.items[-1].last_name == "De Santis"


async def test_members_rejects_unknown_status_before_any_call(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/get-list.json", seen))
    with pytest.raises(InvalidRequestError, match="status"):
        client.lists.members(1, status="deleted")  # type: ignore[arg-type]
    assert seen == []


# --- list (get-lists) ------------------------------------------------------------------------------


async def test_list_parses_json_and_xml_twins_alike(make_client: MakeClient) -> None:
    json_lists, xml_lists = await twin_results(
        make_client, "postman/get-lists", lambda c: c.lists.list().to_list()
    )
    assert json_lists == xml_lists
    assert [(item.id, item.name, item.members_active, item.members_total) for item in json_lists] == [
        (4070887, "My Test List", 3, 5),
        (4086208, "Quick SMS Favourites List", 0, 0),
    ]


async def test_list_reads_array_style_fields_and_null_created(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/get-lists.response-style-array.json", seen))

    page = await client.lists.list().first_page()

    assert call_name(seen[0]) == "get-lists"
    assert form_of(seen[0]) == {"response_style": "array", "page": "1", "max": "100"}
    assert page.totals == {"lists_total": 6}
    customer = page.items[1]
    assert customer.fields == {
        "field_1": "Email",
        "field_2": "Postcode",
        "field_3": "ID",
        "field_4": "Handset",
    }
    assert page.items[-1].name == "auto list for keyword GYM"
    assert page.items[-1].created is None


async def test_list_reads_map_style_fields_of_2015(make_client: MakeClient) -> None:
    client = make_client(serving("captured-2015/get-lists.json", []))
    page = await client.lists.list().first_page()
    assert (page.count, page.total, len(page.items)) == (2, 12, 10)
    by_name = {item.name: item for item in page.items}
    assert by_name["untitled list 7"].fields == {
        "field_1": "Last Name",
        "field_2": "Date of Birth",
        "field_3": "Gender",
        "field_4": "Email",
        "field_10": "Address1",
    }
    assert by_name["test list 2"].fields == {}


# --- add / remove / add_field ----------------------------------------------------------------------


async def test_add_sends_name_slots_and_array_style(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/add-list.response-style-array.json", seen))

    created = await client.lists.add("New Contacts 2", fields={"field_1": "FirstName", "field_2": "LastName"})

    assert call_name(seen[0]) == "add-list"
    assert form_of(seen[0]) == {
        "name": "New Contacts 2",
        "field_1": "FirstName",
        "field_2": "LastName",
        "response_style": "array",
    }
    assert created == ContactList(
        id=4236712,
        name="New Contacts 2",
        created=utc(2020, 6, 30, 5, 2, 15),
        members_active=0,
        members_total=None,
        fields={"field_1": "FirstName", "field_2": "LastName"},
    )


@pytest.mark.parametrize(
    ("path", "response_format", "expected_id", "expected_fields"),
    [
        (
            "postman/add-list.json",
            "json",
            4213644,
            {"field_1": "Email", "field_2": "Postcode", "field_3": "ID"},
        ),
        (
            "postman/add-list.xml",
            "xml",
            4213652,
            {"field_1": "Email", "field_2": "Postcode", "field_3": "ID"},
        ),
        ("captured-2015/add-list.json", "json", 55320, {}),
    ],
)
async def test_add_parses_every_recorded_shape(
    make_client: MakeClient,
    path: str,
    response_format: str,
    expected_id: int,
    expected_fields: dict[str, str],
) -> None:
    client = make_client(serving(path, []), response_format=response_format)
    created = await client.lists.add("x")
    assert (created.id, created.fields, created.members_active) == (expected_id, expected_fields, 0)
    assert created.created is not None


async def test_add_rejects_bad_slot_names_and_blank_name_before_any_call(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/add-list.json", seen))
    with pytest.raises(InvalidRequestError):
        await client.lists.add("x", fields={"field_11": "Nope"})
    with pytest.raises(InvalidRequestError):
        await client.lists.add("  ")
    assert seen == []


@pytest.mark.parametrize("response_format", ["json", "xml"])
async def test_remove_sends_list_id(make_client: MakeClient, response_format: str) -> None:
    seen: list[httpx.Request] = []
    client = make_client(
        serving(f"postman/remove-list.{response_format}", seen), response_format=response_format
    )
    assert await client.lists.remove(4213644) is None
    assert call_name(seen[0]) == "remove-list"
    assert form_of(seen[0]) == {"list_id": "4213644"}


async def test_remove_reads_the_2015_capture(make_client: MakeClient) -> None:
    client = make_client(serving("captured-2015/remove-list.json", []))
    assert await client.lists.remove(55320) is None


async def test_add_field_sends_slots_and_reads_custom_n_as_field_n(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/add-field-to-list.json", seen))

    update = await client.lists.add_field(4213644, {"field_4": "Handset"})

    assert call_name(seen[0]) == "add-field-to-list"
    assert form_of(seen[0]) == {"list_id": "4213644", "field_4": "Handset", "response_style": "array"}
    assert update == ListFieldsUpdate(list_id=4213644, fields={"field_4": "Handset"})
    assert update.extra == {}


async def test_add_field_xml_twin_and_array_style(make_client: MakeClient) -> None:
    from_json, from_xml = await twin_results(
        make_client, "postman/add-field-to-list", lambda c: c.lists.add_field(4213644, {"field_4": "Handset"})
    )
    assert from_xml == from_json
    client = make_client(serving("postman/add-field-to-list.response-style-array.json", []))
    assert await client.lists.add_field(4213652, {"field_4": "Address"}) == ListFieldsUpdate(
        list_id=4213652, fields={"field_4": "Address"}
    )


async def test_add_field_needs_a_slot(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/add-field-to-list.json", seen))
    with pytest.raises(InvalidRequestError, match="at least one"):
        await client.lists.add_field(1, {})
    with pytest.raises(InvalidRequestError):
        await client.lists.add_field(0, {"field_1": "x"})
    assert seen == []


async def test_missing_param_error_maps_to_invalid_field(make_client: MakeClient) -> None:
    client = make_client(lambda request: failure("MISSING_PARAM", "Field parameter is missing (eg. field_n)"))
    with pytest.raises(InvalidFieldError) as caught:
        await client.lists.add_field(1, {"field_1": "x"})
    assert caught.value.code == "MISSING_PARAM"
