"""client.lists, contacts and bulk imports: requests sent and models built from the recorded payloads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from support import call_name, failure, form_of, serving, twin_results, utc

from smsapi_async import (
    AsyncSmsClient,
    ContactError,
    InvalidRequestError,
    KeyExistsError,
    NotFoundError,
)
from smsapi_async.models import Contact, ImportProgress

pytestmark = pytest.mark.anyio

MakeClient = Callable[..., AsyncSmsClient]


# --- contacts ---------------------------------------------------------------------------------------


async def test_add_contact_sends_first_name_last_name_and_slot_values(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/add-to-list.json", seen))

    contact = await client.lists.add_contact(
        4213644,
        "0429625067",
        countrycode="au",
        first_name="Charles",
        last_name="Gordon",
        fields={"field_1": "Telstra"},
    )

    assert call_name(seen[0]) == "add-to-list"
    assert form_of(seen[0]) == {
        "list_id": "4213644",
        "msisdn": "0429625067",
        "countrycode": "au",
        "first_name": "Charles",
        "last_name": "Gordon",
        "field_1": "Telstra",
        "response_style": "array",
    }
    assert contact == Contact(
        list_id=4213644,
        msisdn="61429625067",
        first_name="",
        last_name="",
        created_at=utc(2020, 6, 24, 7, 6, 57),
        status="active",
        fields={"Email": "Telstra", "Postcode": "", "ID": "", "Handset": ""},
    )


async def test_add_contact_sends_only_what_is_given(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("captured-2015/add-to-list.json", seen))

    contact = await client.lists.add_contact(55314, "61491570158")

    assert form_of(seen[0]) == {"list_id": "55314", "msisdn": "61491570158", "response_style": "array"}
    assert (contact.msisdn, contact.first_name, contact.last_name, contact.fields) == (
        "61491570158",
        "",
        "",
        {},
    )


async def test_add_contact_reads_xml_and_array_style(make_client: MakeClient) -> None:
    xml_client = make_client(serving("postman/add-to-list.xml", []), response_format="xml")
    from_xml = await xml_client.lists.add_contact(4213644, "61429720235")
    assert (from_xml.msisdn, from_xml.first_name, from_xml.status) == ("61429720235", "", "active")
    assert from_xml.fields == {"Email": "Telstra", "Postcode": "", "ID": "", "Handset": ""}

    array_client = make_client(serving("postman/add-to-list.response-style-array.json", []))
    from_array = await array_client.lists.add_contact(4213652, "61429625067")
    assert from_array.fields == {"Email": "ID", "Postcode": "Address", "ID": "", "Address": ""}


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("BAD_MOBILE", ContactError),
        ("BAD_MOBILE_COUNTRY", ContactError),
        ("OPTOUT", ContactError),
        ("DUPLICATE_DELETED", ContactError),
        ("KEY_EXISTS", KeyExistsError),
    ],
)
async def test_add_contact_errors_map_to_their_classes(
    make_client: MakeClient, code: str, error: type[Exception]
) -> None:
    client = make_client(lambda request: failure(code, "refused"))
    with pytest.raises(error):
        await client.lists.add_contact(1, "61400000000")


async def test_add_contact_validates_before_any_call(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/add-to-list.json", seen))
    with pytest.raises(InvalidRequestError):
        await client.lists.add_contact(1, "")
    with pytest.raises(InvalidRequestError):
        await client.lists.add_contact(-1, "61400000000")
    with pytest.raises(InvalidRequestError):
        await client.lists.add_contact(1, "61400000000", fields={"Email": "x"})
    assert seen == []


async def test_edit_contact_sends_changes_only_and_empty_clears(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/edit-list-member.json", seen))

    contact = await client.lists.edit_contact(
        4213644, "61429720235", last_name="", fields={"field_1": "Optus"}
    )

    assert call_name(seen[0]) == "edit-list-member"
    assert form_of(seen[0]) == {
        "list_id": "4213644",
        "msisdn": "61429720235",
        "last_name": "",
        "field_1": "Optus",
    }
    assert contact.fields["Email"] == "Optus"


async def test_edit_contact_xml_twin_and_2015_capture(make_client: MakeClient) -> None:
    from_json, from_xml = await twin_results(
        make_client, "postman/edit-list-member", lambda c: c.lists.edit_contact(4213644, "61429720235")
    )
    assert from_xml == from_json
    client = make_client(serving("captured-2015/edit-list-member.json", []))
    hugh = await client.lists.edit_contact(55314, "61400124714", first_name="Hugh")
    assert (hugh.first_name, hugh.last_name, hugh.created_at) == (
        "Hugh",
        "Heller",
        utc(2014, 11, 19, 0, 52, 53),
    )


@pytest.mark.parametrize(
    ("path", "response_format", "expected"),
    [
        ("postman/delete-from-list.json", "json", (4263168,)),
        ("postman/delete-from-list.countrycode.json", "json", (4263168,)),
        ("postman/delete-from-list.xml", "xml", (4213644,)),
        ("captured-2015/delete-from-list.json", "json", (55314,)),
    ],
)
async def test_delete_contact_returns_the_lists_it_left(
    make_client: MakeClient, path: str, response_format: str, expected: tuple[int, ...]
) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving(path, seen), response_format=response_format)
    assert await client.lists.delete_contact(4263168, "478038915", countrycode="AU") == expected
    assert call_name(seen[0]) == "delete-from-list"
    assert form_of(seen[0]) == {"list_id": "4263168", "msisdn": "478038915", "countrycode": "AU"}


@pytest.mark.parametrize(
    ("path", "response_format", "expected"),
    [
        ("postman/optout-list-member.json", "json", (4214121,)),
        ("postman/optout-list-member.xml", "xml", (4214121,)),
        ("captured-2015/optout-list-member.json", "json", (55314,)),
    ],
)
async def test_optout_returns_the_lists_affected(
    make_client: MakeClient, path: str, response_format: str, expected: tuple[int, ...]
) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving(path, seen), response_format=response_format)
    assert await client.lists.optout(4214121, "61429703715") == expected
    assert call_name(seen[0]) == "optout-list-member"
    assert form_of(seen[0]) == {"list_id": "4214121", "msisdn": "61429703715"}


@pytest.mark.parametrize("method", ["delete_contact", "optout"])
async def test_list_id_zero_means_every_list(make_client: MakeClient, method: str) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/delete-from-list.json", seen))
    await getattr(client.lists, method)(0, "61478038915")
    assert form_of(seen[0])["list_id"] == "0"


@pytest.mark.parametrize("method", ["delete_contact", "optout"])
@pytest.mark.parametrize("list_id", [-1, None, True, "5"])
async def test_list_id_is_required_for_removal(make_client: MakeClient, method: str, list_id: Any) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/delete-from-list.json", seen))
    with pytest.raises(InvalidRequestError, match="list_id"):
        await getattr(client.lists, method)(list_id, "61478038915")
    assert seen == []


@pytest.mark.parametrize("method", ["delete_contact", "optout"])
async def test_contact_not_on_list_is_not_found(make_client: MakeClient, method: str) -> None:
    client = make_client(
        lambda request: failure("NOT_FOUND", "Contact with such mobile does not exist in this list.")
    )
    with pytest.raises(NotFoundError):
        await getattr(client.lists, method)(1, "61400000000")


async def test_get_contact_sends_array_style(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/get-contact.response-style-array.json", seen))

    contact = await client.lists.get_contact(4213652, "+61423093477")

    assert call_name(seen[0]) == "get-contact"
    assert form_of(seen[0]) == {"list_id": "4213652", "msisdn": "61423093477", "response_style": "array"}
    assert contact.fields == {"Email": "CharlieGreen@gmail.com", "Postcode": "2758", "ID": "", "Address": ""}
    assert (contact.first_name, contact.last_name) == ("Charlie", "Green")


async def test_get_contact_without_fields(make_client: MakeClient) -> None:
    client = make_client(serving("postman/get-contact.json", []))
    contact = await client.lists.get_contact(4070887, "61429625067")
    assert contact == Contact(
        list_id=4070887,
        msisdn="61429625067",
        first_name="Ella",
        last_name="B",
        created_at=utc(2020, 6, 23, 23, 23, 1),
        status="active",
        fields={},
    )


# --- bulk import -------------------------------------------------------------------------------------


async def test_import_contacts_into_an_existing_list(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/add-contacts-bulk.json", seen))

    list_id = await client.lists.import_contacts(
        "https://www.mydomain.com/files/Product-Team.csv",
        list_id=4214121,
        countrycode="AU",
        fields={"field_1": "email"},
    )

    assert list_id == 4214121
    assert call_name(seen[0]) == "add-contacts-bulk"
    assert form_of(seen[0]) == {
        "file_url": "https://www.mydomain.com/files/Product-Team.csv",
        "list_id": "4214121",
        "countrycode": "AU",
        "field_1": "email",
    }


async def test_import_contacts_into_a_new_list(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/add-contacts-bulk.quickstart-new-list.json", seen))

    list_id = await client.lists.import_contacts(
        "https://www.myserver.com/mylist.csv",
        name="My Large Customer List",
        fields={"field_1": "Postcode", "field_2": "Email"},
    )

    assert list_id == 4200327
    assert form_of(seen[0]) == {
        "file_url": "https://www.myserver.com/mylist.csv",
        "name": "My Large Customer List",
        "field_1": "Postcode",
        "field_2": "Email",
    }


@pytest.mark.parametrize(
    ("path", "response_format", "expected"),
    [
        ("postman/add-contacts-bulk.xml", "xml", 4214121),
        ("postman/add-contacts-bulk.2021.json", "json", 5388555),
    ],
)
async def test_import_contacts_reads_every_recorded_answer(
    make_client: MakeClient, path: str, response_format: str, expected: int
) -> None:
    client = make_client(serving(path, []), response_format=response_format)
    assert (
        await client.lists.import_contacts("http://user:pw@example.com/file1.csv", list_id=expected)
        == expected
    )


@pytest.mark.parametrize(
    ("file_url", "options"),
    [
        ("https://example.com/a.csv", {}),
        ("https://example.com/a.csv", {"list_id": 1, "name": "both"}),
        ("ftp://example.com/a.csv", {"list_id": 1}),
        ("/local/file.csv", {"list_id": 1}),
        ("https://", {"list_id": 1}),
        ("", {"list_id": 1}),
        ("https://example.com/a.csv", {"list_id": 0}),
        ("https://example.com/a.csv", {"name": ""}),
    ],
)
async def test_import_contacts_validates_before_any_call(
    make_client: MakeClient, file_url: str, options: dict[str, Any]
) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/add-contacts-bulk.json", seen))
    with pytest.raises(InvalidRequestError):
        await client.lists.import_contacts(file_url, **options)
    assert seen == []


async def test_import_progress_json_and_xml_twins(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/add-contacts-bulk-progress.json", seen))
    progress = await client.lists.import_progress(4214121)

    assert call_name(seen[0]) == "add-contacts-bulk-progress"
    assert form_of(seen[0]) == {"list_id": "4214121"}
    assert progress == ImportProgress(
        list_id=4214121,
        status="completed",
        total_rows=2,
        completed=2,
        duplicates=0,
        skipped=0,
        opted_out=0,
        imported=2,
    )
    assert progress.is_finished
    assert progress.extra == {}
    from_json, from_xml = await twin_results(
        make_client, "postman/add-contacts-bulk-progress", lambda c: c.lists.import_progress(4214121)
    )
    assert from_xml == from_json == progress


def test_import_progress_in_progress_is_not_finished() -> None:
    progress = ImportProgress.from_api(
        {"list_id": 1, "status": "in progress", "importlength": 10, "completed": 3}
    )
    assert not progress.is_finished
    assert (progress.total_rows, progress.completed, progress.imported) == (10, 3, 0)
