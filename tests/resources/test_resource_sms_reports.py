"""``client.sms`` reporting: what each call sends and returns, and how the paginated ones walk pages."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
from support import Recorder, api_response, call_name, form_of, success

from smsapi_async import AsyncSmsClient, InvalidRequestError, NoAccessError
from smsapi_async._pagination import AsyncPaginator
from smsapi_async.models import MessageInfo, MessageStats

pytestmark = pytest.mark.anyio

MakeClient = Callable[..., AsyncSmsClient]
UTC = timezone.utc
START = datetime(2020, 9, 24, tzinfo=UTC)
END = datetime(2020, 9, 26, tzinfo=UTC)


@pytest.mark.parametrize(
    ("example", "response_format"),
    [("postman/get-sms-stats.json", "json"), ("postman/get-sms-stats.xml", "xml")],
)
async def test_stats(make_client: MakeClient, example: str, response_format: str) -> None:
    handler = Recorder(api_response(example))
    stats = await make_client(handler, response_format=response_format).sms.stats(message_id=339814842)
    assert [call_name(r) for r in handler.requests] == ["get-sms-stats"]
    assert handler.forms == [{"message_id": "339814842"}]
    assert stats == MessageStats(
        total=1, recipient_count=1, delivered=1, pending=0, bounced=0, soft_bounced=0, hard_bounced=0,
        responses=1, optouts=0, link_hits=0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("example", "response_format"),
    [("postman/get-sms-delivery-status.json", "json"), ("postman/get-sms-delivery-status.xml", "xml")],
)
async def test_delivery_status_sends_msisdn_not_mobile(
    make_client: MakeClient, example: str, response_format: str
) -> None:
    handler = Recorder(api_response(example))
    status = await make_client(handler, response_format=response_format).sms.delivery_status(
        message_id=339814842, msisdn="+61 478 038 915"
    )
    assert handler.forms == [{"message_id": "339814842", "msisdn": "61478038915"}]
    assert (status.mobile, status.sender_id, status.status) == ("61478038915", "61429720235", "delivered")


@pytest.mark.parametrize(
    ("example", "response_format"),
    [
        ("postman/get-sms-sent.json", "json"),
        ("postman/get-sms-sent.xml", "xml"),
        ("captured-2015/get-sms-sent.json", "json"),
    ],
)
async def test_sent_recipients_and_message_summary(
    make_client: MakeClient, example: str, response_format: str
) -> None:
    handler = Recorder(api_response(example))
    paginator = make_client(handler, response_format=response_format).sms.sent(
        message_id=339814842, optouts="omit", delivery="pending", list_id=9
    )
    page = await paginator.first_page()
    assert handler.forms == [
        {
            "message_id": "339814842",
            "optouts": "omit",
            "delivery": "pending",
            "list_id": "9",
            "page": "1",
            "max": "100",
        }
    ]
    assert page.items[0].msisdn in ("61478038915", "61406614352")
    assert page.total == len(page.items)
    summary = MessageInfo.from_api(page.data["message"])
    assert summary.message_id in (339814842, 27746)


@pytest.mark.parametrize(
    ("example", "response_format"),
    [
        ("postman/get-sms-responses.json", "json"),
        ("postman/get-sms-responses.xml", "xml"),
        ("captured-2015/get-sms-responses.json", "json"),
    ],
)
async def test_responses_by_message(make_client: MakeClient, example: str, response_format: str) -> None:
    handler = Recorder(api_response(example))
    replies = (
        await make_client(handler, response_format=response_format)
        .sms.responses(message_id=339814842, include_original=True, start=START, end=END)
        .to_list()
    )
    assert handler.forms == [
        {
            "message_id": "339814842",
            "start": "2020-09-24 00:00:00",
            "end": "2020-09-26 00:00:00",
            "include_original": "true",
            "page": "1",
            "max": "100",
        }
    ]
    assert replies
    assert all(reply.response for reply in replies)


async def test_responses_by_keyword_and_number(make_client: MakeClient) -> None:
    handler = Recorder(success(page={"count": 1, "number": 1}, total=0))
    await (
        make_client(handler)
        .sms.responses(keyword="NEWS", number="+61418279031", msisdn="61400000001")
        .to_list()
    )
    assert handler.forms[0] == {
        "keyword": "NEWS",
        "number": "61418279031",
        "msisdn": "61400000001",
        "page": "1",
        "max": "100",
    }


async def test_responses_no_access_error(make_client: MakeClient) -> None:
    handler = Recorder(httpx.Response(400, json={"error": {"code": "NO_ACCESS", "description": "no"}}))
    with pytest.raises(NoAccessError):
        await make_client(handler).sms.responses(keyword_id=3).first_page()


@pytest.mark.parametrize(
    ("example", "response_format", "count"),
    [
        ("postman/get-user-sms-responses.json", "json", 4),
        ("postman/get-user-sms-responses.xml", "xml", 4),
        ("captured-2015/get-user-sms-responses.empty.json", "json", 0),
    ],
)
async def test_user_responses(
    make_client: MakeClient, example: str, response_format: str, count: int
) -> None:
    handler = Recorder(api_response(example))
    replies = (
        await make_client(handler, response_format=response_format)
        .sms.user_responses(start=START, end=END, keywords="omit", number="61429720235")
        .to_list()
    )
    assert handler.forms[0] == {
        "start": "2020-09-24 00:00:00",
        "end": "2020-09-26 00:00:00",
        "keywords": "omit",
        "number": "61429720235",
        "page": "1",
        "max": "100",
    }
    assert len(replies) == count


@pytest.mark.parametrize(
    "example", ["postman/get-user-sms-sent.json", "postman/get-user-sms-sent.msisdn-filter.json"]
)
async def test_user_sent(make_client: MakeClient, example: str) -> None:
    handler = Recorder(api_response(example))
    rows = await make_client(handler).sms.user_sent(start=START, end=END, msisdn="61478038915").to_list()
    assert handler.forms == [
        {
            "start": "2020-09-24 00:00:00",
            "end": "2020-09-26 00:00:00",
            "msisdn": "61478038915",
            "response_style": "array",
            "page": "1",
            "max": "100",
        }
    ]
    assert [row.caller_id for row in rows] == ["61438123456", "61428330912", "61438123456"]


@pytest.mark.parametrize(
    ("example", "response_format", "count"),
    [
        ("postman/get-sms-sent-count.json", "json", 6),
        ("postman/get-sms-sent-count.no-dates.json", "json", 2),
        ("legacy-docs/get-sms-sent-count.json", "json", 6),
        ("legacy-docs/get-sms-sent-count.xml", "xml", 1),
    ],
)
async def test_sent_count(make_client: MakeClient, example: str, response_format: str, count: int) -> None:
    handler = Recorder(api_response(example))
    client = make_client(handler, response_format=response_format)
    assert await client.sms.sent_count(start=START, end=START + timedelta(days=7), client_id=12) == count
    assert handler.forms == [
        {"start": "2020-09-24 00:00:00", "end": "2020-10-01 00:00:00", "client_id": "12"}
    ]
    assert await client.sms.sent_count() == count
    assert handler.forms[1] == {}


@pytest.mark.parametrize(
    "example",
    [
        "postman/get-message-report.json",
        "postman/get-message-report.type-campaign.json",
        "postman/get-message-report.with-list-fields.json",
    ],
)
async def test_message_report(make_client: MakeClient, example: str) -> None:
    handler = Recorder(api_response(example))
    page = (
        await make_client(handler)
        .sms.message_report(
            start=START, end=END, list_id=4280159, number="61447785412", message_type="campaign"
        )
        .first_page()
    )
    assert handler.forms == [
        {
            "start": "2020-09-24 00:00:00",
            "end": "2020-09-26 00:00:00",
            "list_id": "4280159",
            "number": "61447785412",
            "type": "campaign",
            "response_style": "array",
            "page": "1",
            "max": "100",
        }
    ]
    assert page.totals == {"messages_total": len(page.items), "sms_total": len(page.items)}
    assert all(row.cost == Decimal("-0.087") for row in page.items)


@pytest.mark.parametrize(
    ("example", "pages", "first_page_items"),
    [
        ("postman/get-contact-sms-stats.json", 7, 10),
        ("postman/get-contact-sms-stats.date-range-1-page.json", 1, 1),
        ("postman/get-contact-sms-stats.date-range-2-pages.json", 2, 10),
        ("openapi/get-contact-sms-stats.json", 7, 10),
    ],
)
async def test_contact_stats(
    make_client: MakeClient, example: str, pages: int, first_page_items: int
) -> None:
    handler = Recorder(api_response(example))
    page = (
        await make_client(handler)
        .sms.contact_stats(
            mobile="478038915", countrycode="AU", start=START, end=END, sort_field="message_id", order="desc"
        )
        .first_page()
    )
    assert handler.forms == [
        {
            "mobile": "478038915",
            "countrycode": "AU",
            "start": "2020-09-24 00:00:00",
            "end": "2020-09-26 00:00:00",
            "sort_field": "message_id",
            "order": "desc",
            "page": "1",
            "max": "100",
        }
    ]
    assert (page.count, len(page.items)) == (pages, first_page_items)
    assert page.items[0].message_id == 331201546


async def test_link_hits_is_returned_raw(make_client: MakeClient) -> None:
    handler = Recorder(
        success(hits=[{"mobile": 61400000001, "link_hits": 2}], page={"count": 1, "number": 1})
    )
    data = await make_client(handler).sms.link_hits(message_id=5, page=2, page_size=50)
    assert [call_name(r) for r in handler.requests] == ["get-link-hits"]
    assert handler.forms == [{"message_id": "5", "page": "2", "max": "50"}]
    assert data == {"hits": [{"mobile": 61400000001, "link_hits": 2}], "page": {"count": 1, "number": 1}}


async def test_message_log(make_client: MakeClient) -> None:
    handler = Recorder(api_response("captured-2015/get-message-log.json"))
    entry = await make_client(handler).sms.message_log(message_id=50694, mobile="61422222222")
    assert handler.forms == [{"message_id": "50694", "mobile": "61422222222"}]
    assert (entry.message, entry.caller_id) == ("Testing API to field", "61422345678")


INVALID_CALLS: list[tuple[Callable[[AsyncSmsClient], Any], str]] = [
    (lambda c: c.sms.sent(message_id=1, optouts="exclude"), "optouts"),  # type: ignore[arg-type]
    (lambda c: c.sms.sent(message_id=1, delivery="bounced"), "delivery"),  # type: ignore[arg-type]
    (lambda c: c.sms.sent(message_id=1, list_id=0), "list_id"),
    (lambda c: c.sms.responses(), "message_id, keyword_id"),
    (lambda c: c.sms.responses(keyword="NEWS"), "number"),
    (lambda c: c.sms.responses(keyword_id=-1), "keyword_id"),
    (lambda c: c.sms.responses(message_id=1, start=END, end=START), "after end"),
    (lambda c: c.sms.responses(message_id=1, start=datetime(2020, 1, 1)), "timezone-aware"),
    (lambda c: c.sms.user_responses(keywords="all"), "keywords"),  # type: ignore[arg-type]
    (lambda c: c.sms.user_responses(number="x"), "phone number"),
    (lambda c: c.sms.user_sent(start=START, end=None), "start and end"),  # type: ignore[arg-type]
    (lambda c: c.sms.user_sent(start=START, end=END, msisdn="12"), "phone number"),
    (lambda c: c.sms.sent_count(start=START, end=START + timedelta(days=8)), "7 days"),
    (lambda c: c.sms.sent_count(client_id=0), "client_id"),
    (lambda c: c.sms.message_report(start=START, end=START + timedelta(days=31)), "30 days"),
    (lambda c: c.sms.message_report(message_type="sms"), "message_type"),
    (lambda c: c.sms.contact_stats(mobile=""), "phone number"),
    (lambda c: c.sms.contact_stats(mobile="61400000001", order="up"), "order"),  # type: ignore[arg-type]
    (lambda c: c.sms.contact_stats(mobile="61400000001", sort_field="cost"), "sort_field"),  # type: ignore[arg-type]
    (lambda c: c.sms.delivery_status(message_id=1, msisdn="none"), "phone number"),
    (lambda c: c.sms.link_hits(message_id=1, page_size=101), "page_size"),
    (lambda c: c.sms.link_hits(message_id=0), "message_id"),
    (lambda c: c.sms.message_log(message_id=1, mobile="x"), "phone number"),
]


async def run(invoke: Callable[[AsyncSmsClient], Any], client: AsyncSmsClient) -> None:
    """Call a method; await it unless it is a paginator (those validate when called, before any request)."""
    result = invoke(client)
    if not isinstance(result, AsyncPaginator):
        await result


@pytest.mark.parametrize(("invoke", "reason"), INVALID_CALLS)
async def test_reporting_calls_refuse_bad_arguments_before_any_call(
    make_client: MakeClient, invoke: Callable[[AsyncSmsClient], Any], reason: str
) -> None:
    handler = Recorder(success())
    with pytest.raises(InvalidRequestError, match=reason):
        await run(invoke, make_client(handler))
    assert handler.requests == []


# --- pagination -------------------------------------------------------------------------------------------

# method, items key, total keys, the field that numbers a fake item, how to read it back
PAGINATED: dict[
    str, tuple[Callable[..., AsyncPaginator[Any]], str, tuple[str, ...], str, Callable[[Any], int]]
] = {
    "sent": (
        lambda c, **kw: c.sms.sent(message_id=1, **kw),
        "recipients",
        ("total",),
        "msisdn",
        lambda r: int(r.msisdn),
    ),
    "responses": (
        lambda c, **kw: c.sms.responses(message_id=1, **kw),
        "responses",
        ("total",),
        "id",
        lambda r: r.id,
    ),
    "user_responses": (
        lambda c, **kw: c.sms.user_responses(**kw),
        "responses",
        ("total",),
        "id",
        lambda r: r.id,
    ),
    "user_sent": (
        lambda c, **kw: c.sms.user_sent(start=START, end=END, **kw),
        "messages",
        ("total",),
        "id",
        lambda r: r.id,
    ),
    "message_report": (
        lambda c, **kw: c.sms.message_report(**kw),
        "messages",
        ("messages_total", "sms_total"),
        "id",
        lambda r: r.id,
    ),
    "contact_stats": (
        lambda c, **kw: c.sms.contact_stats(mobile="61400000001", **kw),
        "records",
        ("total",),
        "message_id",
        lambda r: r.message_id,
    ),
}


class FakePages:
    """Serves ``n`` numbered items in pages of the requested ``max``, as the API does."""

    def __init__(self, n: int, items_key: str, total_keys: tuple[str, ...], id_field: str) -> None:
        self.n, self.items_key, self.total_keys, self.id_field = n, items_key, total_keys, id_field
        self.forms: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = form_of(request)
        self.forms.append(form)
        number, size = int(form["page"]), int(form["max"])
        body: dict[str, Any] = {"page": {"count": max(1, math.ceil(self.n / size)), "number": number}}
        body.update(dict.fromkeys(self.total_keys, self.n))
        chunk = range((number - 1) * size, min(self.n, number * size))
        if chunk:  # like the API, an empty result has no items key at all
            body[self.items_key] = [{self.id_field: i} for i in chunk]
        return success(**body)


def fake(name: str, n: int) -> tuple[FakePages, Callable[..., AsyncPaginator[Any]], Callable[[Any], int]]:
    method, items_key, totals, id_field, read_id = PAGINATED[name]
    return FakePages(n, items_key, totals, id_field), method, read_id


@pytest.mark.parametrize("name", PAGINATED)
@pytest.mark.parametrize("n", [0, 1, 100, 101, 1000])
async def test_walk_reads_every_item_once_in_ceil_n_over_100_requests(
    make_client: MakeClient, name: str, n: int
) -> None:
    pages, method, read_id = fake(name, n)
    items = await method(make_client(pages)).to_list()
    assert [read_id(item) for item in items] == list(range(n))
    assert len(pages.forms) == max(1, math.ceil(n / 100))
    assert [form["page"] for form in pages.forms] == [str(p) for p in range(1, len(pages.forms) + 1)]
    assert all(form["max"] == "100" for form in pages.forms)


@pytest.mark.parametrize("name", PAGINATED)
async def test_smaller_pages_and_a_later_start_page(make_client: MakeClient, name: str) -> None:
    pages, method, read_id = fake(name, 101)
    items = await method(make_client(pages), page_size=25, start_page=3).to_list()
    assert [read_id(item) for item in items] == list(range(50, 101))
    assert [(form["page"], form["max"]) for form in pages.forms] == [("3", "25"), ("4", "25"), ("5", "25")]


@pytest.mark.parametrize("name", PAGINATED)
async def test_break_and_limit_stop_requests(make_client: MakeClient, name: str) -> None:
    pages, method, read_id = fake(name, 1000)
    async for item in method(make_client(pages)):
        if read_id(item) == 4:
            break
    assert len(pages.forms) == 1
    limited, method, read_id = fake(name, 1000)
    items = await method(make_client(limited), limit=150).to_list()
    assert [read_id(item) for item in items] == list(range(150))
    assert len(limited.forms) == 2


@pytest.mark.parametrize("name", PAGINATED)
@pytest.mark.parametrize("page_size", [0, 101, -1])
async def test_page_size_outside_1_to_100_is_refused(
    make_client: MakeClient, name: str, page_size: int
) -> None:
    pages, method, _ = fake(name, 10)
    with pytest.raises(InvalidRequestError, match="page_size"):
        method(make_client(pages), page_size=page_size)
    assert pages.forms == []


async def test_message_report_pages_carry_both_totals(make_client: MakeClient) -> None:
    pages, method, _ = fake("message_report", 150)
    seen = [page.totals async for page in method(make_client(pages)).pages()]
    assert seen == [{"messages_total": 150, "sms_total": 150}] * 2
