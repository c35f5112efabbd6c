"""client.keywords: add-keyword, edit-keyword and get-keywords requests and the Keyword model."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import attrs
import httpx
import pytest
from support import call_name, failure, form_of, serving

from smsapi_async import AsyncSmsClient, BadCallerIdError, InvalidRequestError, KeyExistsError
from smsapi_async.models import Keyword

pytestmark = pytest.mark.anyio

MakeClient = Callable[..., AsyncSmsClient]

NEWS = Keyword(
    keyword="NEWS",
    number="61418279031",
    reference="Gym news",
    list_id=4214634,
    welcome_message="Welcome to Mike's gym news",
    members_message="Thanks for your continued support",
    forward_url="http://example.com/gym-promo",
    forward_sms=("61491570157", "61491570158"),
    forward_email=("news@example.com", "mike@example.com"),
    status="open",
    billing_date=date(2020, 7, 24),
)


async def test_add_sends_every_option(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/add-keyword.json", seen))

    keyword = await client.keywords.add(
        "NEWS",
        "61418279031",
        reference="Gym news",
        list_id=4214634,
        welcome_message="Welcome to Mike's gym news",
        members_message="Thanks for your continued support",
        activate=True,
        forward_url="http://example.com/gym-promo",
        forward_email=["news@example.com", "mike@example.com"],
        forward_sms=("61491570157", "61491570158"),
    )

    assert call_name(seen[0]) == "add-keyword"
    assert form_of(seen[0]) == {
        "keyword": "NEWS",
        "number": "61418279031",
        "activate": "true",
        "reference": "Gym news",
        "list_id": "4214634",
        "welcome_message": "Welcome to Mike's gym news",
        "members_message": "Thanks for your continued support",
        "forward_url": "http://example.com/gym-promo",
        "forward_email": "news@example.com,mike@example.com",
        "forward_sms": "61491570157,61491570158",
    }
    assert keyword == NEWS


async def test_add_reads_xml_and_the_2015_capture(make_client: MakeClient) -> None:
    xml_client = make_client(serving("postman/add-keyword.xml", []), response_format="xml")
    gym = await xml_client.keywords.add("GYM", "61418279031")
    assert gym == attrs.evolve(NEWS, keyword="GYM", list_id=4214637)

    seen: list[httpx.Request] = []
    client = make_client(serving("captured-2015/add-keyword.json", seen))
    news = await client.keywords.add("NEWS", "61422222222")
    assert form_of(seen[0]) == {"keyword": "NEWS", "number": "61422222222"}
    assert (news.list_id, news.forward_sms, news.forward_email, news.members_message) == (0, (), (), "")
    assert news.billing_date == date(2015, 5, 28)


async def test_add_validates_before_any_call(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/add-keyword.json", seen))
    with pytest.raises(InvalidRequestError):
        await client.keywords.add("", "61418279031")
    with pytest.raises(InvalidRequestError):
        await client.keywords.add("NEWS", "")
    with pytest.raises(InvalidRequestError, match="reference"):
        await client.keywords.add("NEWS", "61418279031", reference="x" * 101)
    with pytest.raises(InvalidRequestError):
        await client.keywords.add("NEWS", "61418279031", list_id=0)
    assert seen == []


@pytest.mark.parametrize(
    ("code", "error"), [("KEY_EXISTS", KeyExistsError), ("BAD_CALLER_ID", BadCallerIdError)]
)
async def test_add_errors(make_client: MakeClient, code: str, error: type[Exception]) -> None:
    client = make_client(lambda request: failure(code, "no"))
    with pytest.raises(error):
        await client.keywords.add("NEWS", "61418279031")


async def test_edit_sends_status_and_changes_only(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/edit-keyword.json", seen))

    keyword = await client.keywords.edit(
        "NEWS", "61418279031", status="open", welcome_message="Welcome to Fitness gym news"
    )

    assert call_name(seen[0]) == "edit-keyword"
    assert form_of(seen[0]) == {
        "keyword": "NEWS",
        "number": "61418279031",
        "status": "Open",  # the published casing, whatever the caller's
        "welcome_message": "Welcome to Fitness gym news",
    }
    assert keyword.welcome_message == "Welcome to Fitness gym news"
    for status in ("active", "sleeping", "", 1):
        with pytest.raises(InvalidRequestError, match="Open, Closed"):
            await client.keywords.edit("NEWS", "61418279031", status=status)  # type: ignore[arg-type]
    assert len(seen) == 1


async def test_edit_json_and_xml_twins_and_2015_capture(make_client: MakeClient) -> None:
    json_client = make_client(serving("postman/edit-keyword.json", []))
    xml_client = make_client(serving("postman/edit-keyword.xml", []), response_format="xml")
    from_json = await json_client.keywords.edit("NEWS", "61418279031")
    assert from_json == await xml_client.keywords.edit("NEWS", "61418279031")
    assert from_json.members_message == "Thanks for your continued support"

    old = await make_client(serving("captured-2015/edit-keyword.json", [])).keywords.edit(
        "NEWS", "61422222222"
    )
    assert (old.keyword, old.number, old.status) == ("NEWS", "61422222222", "open")


async def test_edit_rejects_blank_status(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/edit-keyword.json", seen))
    with pytest.raises(InvalidRequestError):
        await client.keywords.edit("NEWS", "61418279031", status="")
    assert seen == []


async def test_list_filters_by_number_and_parses_json_and_xml_twins(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    json_client = make_client(serving("postman/get-keywords.json", seen))
    xml_client = make_client(serving("postman/get-keywords.xml", []), response_format="xml")

    json_page = await json_client.keywords.list(number="61418279031").first_page()
    xml_page = await xml_client.keywords.list(number="61418279031").first_page()

    assert call_name(seen[0]) == "get-keywords"
    assert form_of(seen[0]) == {"number": "61418279031", "page": "1", "max": "100"}
    assert json_page.items == xml_page.items
    assert json_page.totals == xml_page.totals == {"keywords_total": 2}
    assert json_page.items[1] == NEWS
    assert json_page.items[0].keyword == "GYM"


async def test_list_reads_empty_keywords_of_2015(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("captured-2015/get-keywords.json", seen))
    keywords = await client.keywords.list().to_list()
    assert form_of(seen[0]) == {"page": "1", "max": "100"}
    assert [k.keyword for k in keywords] == ["", "", "FWEFWEFWEF", "MOOSE", "MOOSE MOOSE", "NEWS"]
    assert keywords[2].members_message == "wefwefwe"
