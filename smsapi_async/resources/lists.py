"""``client.lists``: contact lists, their members, opt-outs and bulk imports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from .._convert import field, list_of, to_int
from .._exceptions import InvalidRequestError
from .._pagination import AsyncPaginator, PageSpec
from .._sms_text import normalise_number
from .._validate import (
    MAX_ID,
    check_url,
    custom_fields,
    non_empty,
    one_of,
    optional_id,
    optional_str,
    optional_text,
    positive_id,
    whole_number,
)
from ..models.lists import Contact, ContactList, ImportProgress, ListFieldsUpdate
from ._base import Resource

__all__ = ["ListsResource"]

# Where the API supports it, ask for custom fields as a name/value array: the default map
# shape turns an empty set into [] (a list, not a map) and loses nothing only by luck.
_ARRAY = {"response_style": "array"}
_MEMBER_FILTERS = ("active", "inactive", "all")


def _list_id_or_all(value: Any) -> int:
    """A list id, or 0 for "every list" (delete-from-list, optout-list-member)."""
    return whole_number("list_id (a list id, or 0 for every list)", value, 0, MAX_ID)


def _list_ids(data: Mapping[str, Any]) -> tuple[int, ...]:
    return field("list_ids", list_of(to_int), data)


def _list_details(data: dict[str, Any]) -> ContactList:
    data.pop("page", None)  # get-list with members=none still sends an empty page block
    return ContactList.from_api(data)


class ListsResource(Resource):
    """Contact lists and their contacts. Custom fields are the slots ``field_1`` … ``field_10``."""

    __slots__ = ()

    def list(
        self, *, page_size: int = 100, start_page: int = 1, limit: int | None = None
    ) -> AsyncPaginator[ContactList]:
        """Every list on the account, lazily, ``page_size`` per call. Calls ``get-lists``."""
        spec = PageSpec("lists", ("lists_total",))
        return self._paginate(
            "get-lists",
            _ARRAY,
            spec,
            ContactList.from_api,
            page_size=page_size,
            start_page=start_page,
            limit=limit,
        )

    async def get(self, list_id: int) -> ContactList:
        """One list's details and counters, without its members (see :meth:`members`).

        Calls ``get-list`` with ``members=none``.
        """
        params = {"list_id": positive_id("list_id", list_id), "members": "none", **_ARRAY}
        return await self._read("get-list", params, _list_details)

    def members(
        self,
        list_id: int,
        *,
        status: Literal["active", "inactive", "all"] = "active",
        page_size: int = 100,
        start_page: int = 1,
        limit: int | None = None,
    ) -> AsyncPaginator[Contact]:
        """A list's contacts, lazily: ``"active"`` (default), ``"inactive"`` (deleted) or ``"all"``
        (**undocumented**: in the Postman collection's text, not in the published specification).

        Each page's ``totals`` carry ``members_total`` (deleted included) and ``members_active``.
        Calls ``get-list``, always naming ``members`` (its default differs between sources).
        """
        one_of("status", status, _MEMBER_FILTERS)
        params = {"list_id": positive_id("list_id", list_id), "members": status, **_ARRAY}
        spec = PageSpec("members", ("members_total", "members_active"), row_key=("msisdn",))
        return self._paginate(
            "get-list",
            params,
            spec,
            Contact.from_api,
            page_size=page_size,
            start_page=start_page,
            limit=limit,
        )

    async def add(self, name: str, *, fields: Mapping[str, str] | None = None) -> ContactList:
        """Create a list; ``fields`` names custom slots, e.g. ``{"field_1": "Email"}``. Calls ``add-list``."""
        params = {"name": non_empty("name", name), **custom_fields(fields), **_ARRAY}
        return await self._read("add-list", params, ContactList.from_api)

    async def remove(self, list_id: int) -> None:
        """Delete a list and all its contacts. Calls ``remove-list``."""
        await self._call("remove-list", {"list_id": positive_id("list_id", list_id)})

    async def add_field(self, list_id: int, fields: Mapping[str, str]) -> ListFieldsUpdate:
        """Name (or rename) custom slots of a list, e.g. ``{"field_4": "Handset"}``.

        Calls ``add-field-to-list``.
        """
        slots = custom_fields(fields)
        if not slots:
            raise InvalidRequestError("fields must name at least one slot, e.g. {'field_4': 'Handset'}")
        params = {"list_id": positive_id("list_id", list_id), **slots, **_ARRAY}
        return await self._read("add-field-to-list", params, ListFieldsUpdate.from_api)

    async def add_contact(
        self,
        list_id: int,
        msisdn: str,
        *,
        countrycode: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        fields: Mapping[str, str] | None = None,
    ) -> Contact:
        """Add one contact; ``fields`` sets slot values, e.g. ``{"field_1": "a@b.c"}``.

        A local number needs ``countrycode`` (``"AU"``). A contact already on the list is left as
        it is or refused with ``KeyExistsError``; use :meth:`edit_contact` to change it. Opted-out
        or deleted numbers raise ``ContactError``. Calls ``add-to-list``.
        """
        params = {
            "list_id": positive_id("list_id", list_id),
            "msisdn": normalise_number("msisdn", msisdn),
            "countrycode": optional_str("countrycode", countrycode),
            "first_name": optional_str("first_name", first_name),
            "last_name": optional_str("last_name", last_name),
            **custom_fields(fields),
            **_ARRAY,
        }
        return await self._read("add-to-list", params, Contact.from_api)

    async def edit_contact(
        self,
        list_id: int,
        msisdn: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        fields: Mapping[str, str] | None = None,
    ) -> Contact:
        """Change a contact: only what is given is sent, and ``""`` clears a value.

        Calls ``edit-list-member``.
        """
        params = {
            "list_id": positive_id("list_id", list_id),
            "msisdn": normalise_number("msisdn", msisdn),
            "first_name": optional_str("first_name", first_name),
            "last_name": optional_str("last_name", last_name),
            **custom_fields(fields),
        }
        return await self._read("edit-list-member", params, Contact.from_api)

    async def delete_contact(
        self, list_id: int, msisdn: str, *, countrycode: str | None = None
    ) -> tuple[int, ...]:
        """Remove a contact from a list, or from every list with ``list_id=0``.

        Returns the ids of the lists it was removed from. Calls ``delete-from-list``.
        """
        params = {
            "list_id": _list_id_or_all(list_id),
            "msisdn": normalise_number("msisdn", msisdn),
            "countrycode": optional_str("countrycode", countrycode),
        }
        return await self._read("delete-from-list", params, _list_ids)

    async def optout(self, list_id: int, msisdn: str) -> tuple[int, ...]:
        """Opt a contact out (unsubscribe) of a list, or of every list with ``list_id=0``.

        With the account's global opt-out on, any opt-out applies to every list. Returns the ids of
        the lists affected. Calls ``optout-list-member``.
        """
        params = {"list_id": _list_id_or_all(list_id), "msisdn": normalise_number("msisdn", msisdn)}
        return await self._read("optout-list-member", params, _list_ids)

    async def import_contacts(
        self,
        file_url: str,
        *,
        list_id: int | None = None,
        name: str | None = None,
        countrycode: str | None = None,
        fields: Mapping[str, str] | None = None,
    ) -> int:
        """Start importing a CSV (with a ``mobile`` column) into list ``list_id`` or a new list ``name``.

        Exactly one of ``list_id`` / ``name``. ``file_url`` must be a public http(s) URL with no
        redirects. The import runs later and its failures are not reported here: poll
        :meth:`import_progress` with the returned list id. Calls ``add-contacts-bulk``.
        """
        if (list_id is None) == (name is None):
            raise InvalidRequestError("pass exactly one of list_id (an existing list) or name (a new list)")
        params = {
            "file_url": check_url("file_url", file_url),
            "list_id": optional_id("list_id", list_id),
            "name": optional_text("name", name),
            "countrycode": optional_str("countrycode", countrycode),
            **custom_fields(fields),
        }
        return await self._read("add-contacts-bulk", params, lambda data: field("list_id", to_int, data))

    async def import_progress(self, list_id: int) -> ImportProgress:
        """How far a bulk import into ``list_id`` has got. Calls ``add-contacts-bulk-progress``."""
        params = {"list_id": positive_id("list_id", list_id)}
        return await self._read("add-contacts-bulk-progress", params, ImportProgress.from_api)

    async def get_contact(self, list_id: int, msisdn: str) -> Contact:
        """One contact on a list. Calls ``get-contact``."""
        params = {
            "list_id": positive_id("list_id", list_id),
            "msisdn": normalise_number("msisdn", msisdn),
            **_ARRAY,
        }
        return await self._read("get-contact", params, Contact.from_api)
