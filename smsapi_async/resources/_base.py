"""What every resource shares: its client, one call path, and the one pagination helper."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from .._convert import reading
from .._pagination import DEFAULT_PAGE_SIZE, AsyncPaginator, PageSpec

if TYPE_CHECKING:
    from .._client import AsyncSmsClient

__all__ = ["Resource"]

T = TypeVar("T")


class Resource:
    """Base of ``client.sms``, ``client.lists`` …: a thin, stateless view over the client."""

    __slots__ = ("_client",)

    def __init__(self, client: AsyncSmsClient) -> None:
        self._client = client

    async def _call(self, name: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return await self._client.call(name, params or {})

    async def _read(
        self, name: str, params: Mapping[str, Any] | None, build: Callable[[dict[str, Any]], T]
    ) -> T:
        """Make call ``name`` and ``build`` its result: an answer that does not fit is a typed error
        naming the call (for a call that changes state, :class:`OutcomeUnknownError`)."""
        data = await self._call(name, params)
        with reading(name):
            return build(data)

    def _paginate(
        self,
        name: str,
        params: Mapping[str, Any],
        spec: PageSpec,
        convert: Callable[[Any], T],
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        start_page: int = 1,
        limit: int | None = None,
    ) -> AsyncPaginator[T]:
        return AsyncPaginator(
            self._client, name, params, spec, convert, page_size=page_size, start_page=start_page, limit=limit
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._client!r}>"
