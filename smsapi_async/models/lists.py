"""Contact lists, their members, and bulk imports (``get-lists``, ``get-list``, ``add-to-list`` …)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from .._convert import (
    api_field,
    extra_field,
    field,
    fields_map,
    from_api,
    opt,
    require_mapping,
    to_datetime,
    to_int,
    to_msisdn,
    to_str,
)

__all__ = [
    "CONTACT_STATUSES",
    "IMPORT_STATUSES",
    "Contact",
    "ContactList",
    "ImportProgress",
    "ListFieldsUpdate",
    "slot_fields",
]

CONTACT_STATUSES: Final = ("active", "inactive")
"""Known ``Contact.status`` values; ``inactive`` means deleted from the list. Others are kept as sent."""

IMPORT_STATUSES: Final = ("in progress", "completed", "failed")
"""Known ``ImportProgress.status`` values. Others are kept as sent."""

_CUSTOM_SLOT = re.compile(r"custom_(\d+)")


def slot_fields(value: Any) -> dict[str, str]:
    """A list's custom field names keyed by slot: ``{"field_1": "Email"}``.

    Accepts every shape the API uses (``[]``, a ``field_N`` map, a name/value array) and renames
    ``custom_N`` (how ``add-field-to-list`` reports a slot) to ``field_N``, the name the request
    calls use, so one slot has one key everywhere.
    """
    result: dict[str, str] = {}
    for key, name in fields_map(value).items():
        match = _CUSTOM_SLOT.fullmatch(key)
        result[f"field_{match.group(1)}" if match else key] = name
    return result


@attrs.frozen(slots=True)
class ContactList:
    """A contact list (``get-lists`` item, ``get-list``, ``add-list``).

    Attributes:
        fields: custom field names by slot (``{"field_1": "Email"}``); see :func:`slot_fields`.
        members_total: every member, deleted ones included; ``None`` when the call omits it
            (``add-list``).
        created: ``None`` for lists the platform made itself (keyword auto-lists).
    """

    id: int = api_field(to_int)
    name: str = api_field(to_str)
    created: datetime | None = api_field(to_datetime)
    members_active: int = api_field(to_int)
    members_total: int | None = api_field(opt(to_int))
    fields: Mapping[str, str] = api_field(slot_fields)
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ContactList:
        return from_api(cls, data)


@attrs.frozen(slots=True)
class Contact:
    """A contact on a list (``get-list`` member, ``get-contact``, ``add-to-list``, ``edit-list-member``).

    Attributes:
        msisdn: the number, international format, digits only.
        first_name, last_name: ``""`` when not set (the API sends ``null`` or ``""``).
        status: ``"active"`` or ``"inactive"`` (deleted); see :data:`CONTACT_STATUSES`.
        fields: custom field values keyed by field **name** (``{"Email": "a@b.c"}``); empty
            when the list has none or the call did not return them.
    """

    list_id: int = api_field(to_int)
    msisdn: str = api_field(to_msisdn)
    first_name: str = api_field(to_str, aliases=("firstname",))
    last_name: str = api_field(to_str, aliases=("lastname",))
    created_at: datetime | None = api_field(to_datetime)
    status: str = api_field(to_str)
    fields: Mapping[str, str] = api_field(fields_map)
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Contact:
        return from_api(cls, data)


@attrs.frozen(slots=True)
class ListFieldsUpdate:
    """What ``add-field-to-list`` wrote: the list and the slots it named.

    Attributes:
        fields: the slots written, ``{"field_4": "Handset"}`` (the API reports ``custom_4``).
    """

    list_id: int = api_field(to_int, key="id")
    fields: Mapping[str, str] = api_field(slot_fields)
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ListFieldsUpdate:
        # The default response style puts each slot at the top level ("custom_4": "Handset");
        # the array style nests them under "fields". Fold both into one mapping.
        slots = {
            key: value for key, value in require_mapping(cls, data).items() if _CUSTOM_SLOT.fullmatch(key)
        }
        rest = {key: value for key, value in data.items() if key not in slots}
        merged = {
            **field("fields", fields_map, rest, owner=cls.__name__),
            **field("fields", fields_map, {"fields": slots}, owner=cls.__name__),
        }
        return from_api(cls, {**rest, "fields": merged})


@attrs.frozen(slots=True)
class ImportProgress:
    """Progress of a bulk import (``add-contacts-bulk-progress``).

    Attributes:
        status: ``"in progress"``, ``"completed"`` or ``"failed"``; see :data:`IMPORT_STATUSES`.
        total_rows: rows in the file, invalid ones included (API ``importlength``).
        completed: rows processed so far.
        duplicates: rows whose number was already on the list.
        skipped: blank or invalid rows.
        opted_out: rows whose number had opted out (API ``optout``).
        imported: contacts added.
    """

    list_id: int = api_field(to_int)
    status: str = api_field(to_str)
    total_rows: int = api_field(to_int, key="importlength")
    completed: int = api_field(to_int)
    duplicates: int = api_field(to_int)
    skipped: int = api_field(to_int)
    opted_out: int = api_field(to_int, key="optout")
    imported: int = api_field(to_int)
    extra: Mapping[str, Any] = extra_field()

    @property
    def is_finished(self) -> bool:
        """Whether the import has stopped (completed or failed): polling can end."""
        return self.status in ("completed", "failed")

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ImportProgress:
        return from_api(cls, data)
