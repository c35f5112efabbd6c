"""The one pagination helper behind every paginated call.

A paginated method returns an :class:`AsyncPaginator` at once (no request yet):

* ``async for item in paginator`` walks every item of every page, fetching lazily, one page in
  memory, and makes no request after the consumer stops;
* ``async for page in paginator.pages()`` walks pages (items, number, count and the call's totals);
* ``await paginator.first_page()`` fetches one page; ``await paginator.to_list()`` collects items.

Walking asks for ``max=100`` per page (the API's default of 10 would cost ten times the
rate-limited calls). The walk ends when ``page.number >= page.count``, on an empty page, or after
``limit`` items. Each call only says where its items and totals are (:class:`PageSpec`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from ._convert import as_list, field, reading, to_int
from ._exceptions import InvalidRequestError

if TYPE_CHECKING:
    from ._client import AsyncSmsClient

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "AsyncPaginator", "Page", "PageSpec"]

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 100


@attrs.frozen
class PageSpec:
    """Where a paginated call keeps its items and its totals."""

    items_key: str
    total_keys: tuple[str, ...] = ("total",)


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


def _check_positive(name: str, value: int | None, upper: int | None = None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRequestError(f"{name} must be a positive integer, got {value!r}")
    if upper is not None and value > upper:
        raise InvalidRequestError(f"{name} must be at most {upper}, got {value!r}")


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
        _check_positive("page", number)
        data = await self._client.call(self._call, self._params, page=number, max=self._page_size)
        with reading(self._call):
            return self._page(data, number)

    def _page(self, data: dict[str, Any], number: int) -> Page[T]:
        block = data.pop("page", None)
        raw_items = data.pop(self._spec.items_key, None)
        items = tuple(self._convert(item) for item in as_list(raw_items))
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
        """Every page from ``start_page`` to the last (or until ``limit`` items were seen)."""
        number = self._start
        seen = 0
        while True:
            page = await self.fetch_page(number)
            if self._limit is not None and seen + len(page.items) >= self._limit:
                yield attrs.evolve(page, items=page.items[: self._limit - seen])
                return
            yield page
            seen += len(page.items)
            # the requested number counts too: a server that ignores `page` must not loop us forever
            if page.is_last or number >= page.count:
                return
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
