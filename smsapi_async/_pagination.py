"""The one pagination helper behind every paginated call.

A paginated method returns an :class:`AsyncPaginator` at once (no request yet):

* ``async for item in paginator`` walks every item of every page, fetching lazily, one page in
  memory, and makes no request after the consumer stops;
* ``async for page in paginator.pages()`` walks pages (items, number, count and the call's totals);
* ``await paginator.first_page()`` fetches one page; ``await paginator.to_list()`` collects items.

Walking asks for ``max=100`` per page (the API's default of 10 would cost ten times the
rate-limited calls). The walk ends when ``page.number >= page.count``, on an empty page, or after
``limit`` items. Each call only says where its items and totals are (:class:`PageSpec`).

A walk never yields an item twice and always ends, whatever the server says:

* an item already yielded is skipped: rows shift to later pages when new ones arrive during a walk.
  A row is known by its key (the API's id, or the call's natural key: a recipient's number, a
  keyword and its number), so a row that moved and changed an unmodelled field or its spelling
  (``"1"`` and ``1``) is still the same row. The walk keeps the keys of the last
  :data:`DEDUP_PAGES` pages only (at most 300 keys), not of every row it has seen: a row shifts by
  as many places as rows arrived between two page requests, far less than that;
* a page holding nothing but items already yielded means the server ignores ``page``: the walk
  raises :class:`PaginationError` rather than yield copies or loop;
* pages that appear while the walk runs are followed, up to twice the page count the first page
  reported plus two (and never beyond :data:`MAX_WALK_PAGES`); a count that keeps growing past that
  raises :class:`PaginationError`.

The error comes after every item read so far was yielded; use ``limit`` to bound a walk yourself.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from ._convert import as_list, field, reading, to_int
from ._exceptions import PaginationError
from ._validate import MAX_ID, whole_number

if TYPE_CHECKING:
    from ._client import AsyncSmsClient

__all__ = [
    "DEDUP_PAGES",
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "MAX_WALK_PAGES",
    "AsyncPaginator",
    "Page",
    "PageSpec",
]

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 100
MAX_WALK_PAGES = 1_000_000
"""No walk fetches more pages than this (a hundred million rows; days of rate-limited calls)."""
DEDUP_PAGES = 3
"""How many of the last pages' row keys a walk keeps, to skip rows that shifted onto a later page."""


@attrs.frozen
class PageSpec:
    """Where a paginated call keeps its items and its totals, and what identifies one of its rows.

    Attributes:
        items_key: the key of the list of rows.
        total_keys: the keys of the call's total counters.
        row_key: the fields that identify a row (the API's ``id``, or the call's natural key); a
            row lacking all of them is known by its whole content instead.
    """

    items_key: str
    total_keys: tuple[str, ...] = ("total",)
    row_key: tuple[str, ...] = ("id",)


@attrs.frozen
class Page(Generic[T]):
    """One page of results.

    Attributes:
        items: this page's items, converted.
        number: this page's number (1-based).
        count: how many pages there are.
        totals: the call's total counters, e.g. ``{"total": 250}`` or
            ``{"messages_total": 3, "sms_total": 5}``.
        data: every other field of the response (e.g. get-list's list details), as sent.
    """

    items: tuple[T, ...]
    number: int
    count: int
    totals: Mapping[str, int] = attrs.field(factory=dict, eq=False)
    data: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)

    @property
    def total(self) -> int | None:
        """The call's main total (the first of its total keys), if the response had it."""
        return next(iter(self.totals.values()), None)

    @property
    def is_last(self) -> bool:
        """Whether no page follows this one."""
        return not self.items or self.number >= self.count


def _key_part(value: Any) -> str:
    # one spelling per value: 1 and "1", " 61400000001" and "+61400000001" are the same key
    text = str(value).strip()
    return text[1:] if text.startswith("+") and text[1:].isdigit() else text


def _row_key(item: Any, fields: tuple[str, ...]) -> bytes:
    """What identifies a row, reduced to 16 bytes: its key fields when it has them all, else its
    whole content (real answers hold rows with a blank keyword, say, told apart by other fields)."""
    if isinstance(item, Mapping) and all(str(item.get(name, "")).strip() for name in fields):
        text = "\x1f".join(_key_part(item.get(name, "")) for name in fields)
    else:
        text = json.dumps(item, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _check_positive(name: str, value: int | None, upper: int = MAX_ID) -> None:
    if value is not None:
        whole_number(name, value, 1, upper)


class AsyncPaginator(Generic[T]):
    """Lazy walk over a paginated call; see the module docstring."""

    __slots__ = ("_call", "_client", "_convert", "_limit", "_page_size", "_params", "_spec", "_start")

    def __init__(
        self,
        client: AsyncSmsClient,
        call: str,
        params: Mapping[str, Any],
        spec: PageSpec,
        convert: Callable[[Any], T],
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        start_page: int = 1,
        limit: int | None = None,
    ) -> None:
        _check_positive("page_size", page_size, MAX_PAGE_SIZE)
        _check_positive("start_page", start_page)
        _check_positive("limit", limit)
        self._client = client
        self._call = call
        self._params = dict(params)
        self._spec = spec
        self._convert = convert
        self._page_size = page_size
        self._start = start_page
        self._limit = limit

    async def fetch_page(self, number: int) -> Page[T]:
        """Fetch page ``number`` (1-based) with this paginator's page size."""
        page, _ = await self._fetch(number)
        return page

    async def _fetch(self, number: int) -> tuple[Page[T], list[bytes]]:
        """Page ``number`` and the key of each of its rows."""
        _check_positive("page", number)
        data = await self._client.call(self._call, self._params, page=number, max=self._page_size)
        with reading(self._call):
            raw_items = as_list(data.pop(self._spec.items_key, None))
            keys = [_row_key(item, self._spec.row_key) for item in raw_items]
            return self._page(data, raw_items, number), keys

    def _page(self, data: dict[str, Any], raw_items: list[Any], number: int) -> Page[T]:
        block = data.pop("page", None)
        items = tuple(self._convert(item) for item in raw_items)
        totals = {key: field(key, to_int, data) for key in self._spec.total_keys if key in data}
        for key in totals:
            del data[key]
        page_number, page_count = number, 1 if items else 0
        if isinstance(block, Mapping):
            page_number = field("number", to_int, block, owner="page") or number
            page_count = field("count", to_int, block, owner="page")
        return Page(items=items, number=page_number, count=page_count, totals=totals, data=data)

    async def first_page(self) -> Page[T]:
        """The first page of the walk (``start_page``)."""
        return await self.fetch_page(self._start)

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Every page from ``start_page`` to the last (or until ``limit`` items were seen); items
        already yielded are left out (see the module docstring for how a walk always ends).

        Raises:
            PaginationError: the server repeats pages, or its page count keeps growing.
        """
        number = self._start
        seen = 0
        recent: deque[set[bytes]] = deque(maxlen=DEDUP_PAGES)  # keys of the last pages' rows
        last_allowed: int | None = None
        while True:
            page, keys = await self._fetch(number)
            fresh = [
                item
                for item, key in zip(page.items, keys, strict=True)
                if not any(key in earlier for earlier in recent)  # rows of one page are all its own
            ]
            if keys and not fresh:
                raise PaginationError(
                    f"page {number} holds only rows already seen: the server is ignoring the page "
                    "parameter, so the walk stops rather than repeat them",
                    call=self._call,
                )
            recent.append(set(keys))
            if len(fresh) < len(page.items):
                page = attrs.evolve(page, items=tuple(fresh))
            if self._limit is not None and seen + len(page.items) >= self._limit:
                yield attrs.evolve(page, items=page.items[: self._limit - seen])
                return
            yield page
            seen += len(page.items)
            # the requested number counts too: a server that ignores `page` must not loop us forever
            if page.is_last or number >= page.count:
                return
            if last_allowed is None:
                last_allowed = min(MAX_WALK_PAGES, 2 * max(page.count, number) + 2)
            if number >= last_allowed:
                raise PaginationError(
                    f"the page count keeps growing (now {page.count} at page {number}); the walk "
                    f"stops at page {last_allowed}, twice the count first reported plus two",
                    call=self._call,
                )
            number += 1

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item

    async def to_list(self) -> list[T]:
        """Every item (mind ``limit`` on large accounts: each page is one rate-limited call)."""
        return [item async for item in self]

    def __repr__(self) -> str:
        return (
            f"AsyncPaginator(call={self._call!r}, page_size={self._page_size}, "
            f"start_page={self._start}, limit={self._limit})"
        )
