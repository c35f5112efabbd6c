"""Pagination of every paginated method of client.lists, .numbers, .keywords and .resellers.

A fake paging server holds N items and answers ``page``/``max`` like the API (page block, total
keys, the call's items key); each test counts the requests and checks no item is skipped or repeated.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from support import call_name, form_of, success

from smsapi_async import AsyncSmsClient, InvalidRequestError
from smsapi_async._pagination import AsyncPaginator

pytestmark = pytest.mark.anyio

MakeClient = Callable[..., AsyncSmsClient]


@dataclass(frozen=True)
class Paged:
    """One paginated method: how to open it, what the server calls things, how to name an item."""

    name: str
    call: str
    items_key: str
    total_keys: tuple[str, ...]
    open: Callable[..., AsyncPaginator[Any]]
    fixed_form: dict[str, str]
    make_item: Callable[[int], dict[str, Any]]
    identity: Callable[[Any], int]


BASE = 61400000000

PAGED = [
    Paged(
        "lists.list",
        "get-lists",
        "lists",
        ("lists_total",),
        lambda c, **kw: c.lists.list(**kw),
        {"response_style": "array"},
        lambda i: {"id": i + 1, "name": f"list {i}", "members_active": 0, "fields": []},
        lambda item: item.id - 1,
    ),
    Paged(
        "lists.members",
        "get-list",
        "members",
        ("members_total", "members_active"),
        lambda c, **kw: c.lists.members(7, **kw),
        {"list_id": "7", "members": "active", "response_style": "array"},
        lambda i: {"list_id": 7, "msisdn": BASE + i, "status": "active"},
        lambda item: int(item.msisdn) - BASE,
    ),
    Paged(
        "numbers.list",
        "get-numbers",
        "numbers",
        ("numbers_total",),
        lambda c, **kw: c.numbers.list(**kw),
        {"filter": "owned"},
        lambda i: {"number": BASE + i, "price": 25, "auto_renew": True, "status": "active"},
        lambda item: int(item.number) - BASE,
    ),
    Paged(
        "keywords.list",
        "get-keywords",
        "keywords",
        ("keywords_total",),
        lambda c, **kw: c.keywords.list(**kw),
        {},
        lambda i: {"keyword": f"K{i}", "number": BASE, "list_id": i},
        lambda item: item.list_id,
    ),
    Paged(
        "resellers.clients",
        "get-clients",
        "clients",
        ("clients_total",),
        lambda c, **kw: c.resellers.clients(**kw),
        {},
        lambda i: {"id": i + 1, "name": f"client {i}", "apikey": "k", "apisecret": "s"},
        lambda item: item.id - 1,
    ),
    Paged(
        "resellers.transactions",
        "get-transactions",
        "transactions",
        ("transactions_total",),
        lambda c, **kw: c.resellers.transactions(2026, **kw),
        {"client_id": "2026"},
        lambda i: {"id": i + 1, "user_id": 2026, "amount": -1, "balance_standing": "$1.000"},
        lambda item: item.id - 1,
    ),
]


class PagingServer:
    """Serves ``count`` items of one call, ``max`` per page, and records every request."""

    def __init__(self, paged: Paged, count: int) -> None:
        self.paged = paged
        self.items = [paged.make_item(i) for i in range(count)]
        self.requests: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert call_name(request) == self.paged.call
        form = form_of(request)
        self.requests.append(form)
        number, size = int(form["page"]), int(form["max"])
        pages = math.ceil(len(self.items) / size)
        chunk = self.items[(number - 1) * size : number * size]
        totals = dict.fromkeys(self.paged.total_keys, len(self.items))
        body: dict[str, Any] = {"page": {"count": pages, "number": number}, **totals}
        if chunk:  # like the API, an empty result may leave the items key out
            body[self.paged.items_key] = chunk
        return success(**body)


@pytest.fixture(params=PAGED, ids=lambda paged: paged.name)
def paged(request: pytest.FixtureRequest) -> Paged:
    return request.param  # type: ignore[no-any-return]


@pytest.mark.parametrize("count", [0, 1, 100, 101, 1000])
async def test_walks_every_item_once_with_the_fewest_calls(
    make_client: MakeClient, paged: Paged, count: int
) -> None:
    server = PagingServer(paged, count)
    client = make_client(server)

    items = await paged.open(client).to_list()

    assert [paged.identity(item) for item in items] == list(range(count))
    assert len(server.requests) == max(1, math.ceil(count / 100))
    assert [form["page"] for form in server.requests] == [str(n + 1) for n in range(len(server.requests))]
    for form in server.requests:
        assert form["max"] == "100"
        assert {key: form[key] for key in paged.fixed_form} == paged.fixed_form


async def test_page_size_sets_max_and_the_number_of_calls(make_client: MakeClient, paged: Paged) -> None:
    server = PagingServer(paged, 101)
    items = await paged.open(make_client(server), page_size=30).to_list()
    assert len(items) == 101
    assert [form["max"] for form in server.requests] == ["30"] * 4


async def test_stops_fetching_after_break(make_client: MakeClient, paged: Paged) -> None:
    server = PagingServer(paged, 1000)
    seen = []
    async for item in paged.open(make_client(server)):
        seen.append(paged.identity(item))
        if len(seen) == 150:
            break
    assert seen == list(range(150))
    assert len(server.requests) == 2


async def test_limit_caps_items_and_calls(make_client: MakeClient, paged: Paged) -> None:
    server = PagingServer(paged, 1000)
    items = await paged.open(make_client(server), limit=150).to_list()
    assert [paged.identity(item) for item in items] == list(range(150))
    assert len(server.requests) == 2


async def test_start_page_and_totals(make_client: MakeClient, paged: Paged) -> None:
    server = PagingServer(paged, 250)
    pages = [page async for page in paged.open(make_client(server), start_page=2).pages()]
    assert [page.number for page in pages] == [2, 3]
    assert [paged.identity(item) for page in pages for item in page.items] == list(range(100, 250))
    assert pages[0].totals == dict.fromkeys(paged.total_keys, 250)


@pytest.mark.parametrize("page_size", [0, 101, -5])
async def test_page_size_outside_1_to_100_is_rejected_before_any_call(
    make_client: MakeClient, paged: Paged, page_size: int
) -> None:
    server = PagingServer(paged, 10)
    with pytest.raises(InvalidRequestError, match="page_size"):
        paged.open(make_client(server), page_size=page_size)
    assert server.requests == []
