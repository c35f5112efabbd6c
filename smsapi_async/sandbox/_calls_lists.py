"""List and contact calls: get-lists, get-list, add-list, remove-list, add-field-to-list, add-to-list,
edit-list-member, delete-from-list, optout-list-member, get-contact (bulk import is in ``_bulk.py``)."""

from __future__ import annotations

from typing import Any

from ._calls_sms import num
from ._lifecycle import emit_list_action
from ._params import ApiFailure, Context, Handler, Params, paginate, with_items
from ._phone import normalise
from ._state import Contact, ContactList, datetime_text

__all__ = ["HANDLERS", "find_list", "list_fields", "new_list"]

MAX_LIST_NAME = 255


def _array_style(p: Params) -> bool:
    return p.choice("response_style", ("array", "default"), "default") == "array"


def find_list(ctx: Context, list_id: int) -> ContactList:
    contact_list = ctx.account.lists.get(list_id)
    if contact_list is None:
        raise ApiFailure("NOT_FOUND", "List with this ID does not exist")
    return contact_list


def list_fields(contact_list: ContactList, array: bool) -> Any:
    slots = sorted(contact_list.fields.items())
    if array:
        return [{"name": f"field_{n}", "value": name} for n, name in slots]
    return {f"field_{n}": name for n, name in slots} or []


def _contact_fields(contact_list: ContactList, contact: Contact, array: bool) -> Any:
    values = [(name, contact.fields.get(n, "")) for n, name in sorted(contact_list.fields.items())]
    if array:
        return [{"name": name, "value": value} for name, value in values]
    return dict(values) or []


def contact_view(contact_list: ContactList, contact: Contact, array: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "list_id": contact_list.id,
        "msisdn": num(contact.msisdn),
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "created_at": datetime_text(contact.created_at),
        "status": contact.status,
    }
    if contact_list.fields:
        out["fields"] = _contact_fields(contact_list, contact, array)
    return out


def _list_view(contact_list: ContactList, array: bool) -> dict[str, Any]:
    return {
        "id": contact_list.id,
        "name": contact_list.name,
        "created": datetime_text(contact_list.created),
        "members_active": len(contact_list.active_members()),
        "fields": list_fields(contact_list, array),
    }


def get_lists(ctx: Context, p: Params) -> dict[str, Any]:
    array = _array_style(p)
    lists = sorted(ctx.account.lists.values(), key=lambda lst: lst.id)
    page, items = paginate(p, lists)
    return with_items(
        {"page": page, "lists_total": len(lists)},
        "lists",
        items,
        lambda lst: {**_list_view(lst, array), "members_total": len(lst.members)},
    )


def get_list(ctx: Context, p: Params) -> dict[str, Any]:
    contact_list = find_list(ctx, p.required_int("list_id"))
    which = p.choice("members", ("active", "inactive", "all", "none"), "active")
    array = _array_style(p)
    members = [
        c for c in contact_list.members.values() if which == "all" or (which != "none" and c.status == which)
    ]
    page, items = paginate(p, members)
    payload = {"page": page, "members_total": len(contact_list.members)}
    payload |= _list_view(contact_list, array)
    return with_items(payload, "members", items, lambda c: contact_view(contact_list, c, array))


def new_list(ctx: Context, name: str, fields: dict[int, str]) -> ContactList:
    if any(lst.name == name for lst in ctx.account.lists.values()):
        raise ApiFailure("KEY_EXISTS", "A list with this name already exists")
    contact_list = ContactList(ctx.sandbox.state.next_id("list"), name, ctx.now)
    contact_list.fields = {n: v for n, v in fields.items() if v.strip()}
    ctx.account.lists[contact_list.id] = contact_list
    return contact_list


def add_list(ctx: Context, p: Params) -> dict[str, Any]:
    name = p.required_text("name", max_len=MAX_LIST_NAME)
    contact_list = new_list(ctx, name, p.custom_fields())
    return _list_view(contact_list, _array_style(p))


def remove_list(ctx: Context, p: Params) -> dict[str, Any]:
    contact_list = find_list(ctx, p.required_int("list_id"))
    del ctx.account.lists[contact_list.id]
    return {}


def add_field_to_list(ctx: Context, p: Params) -> dict[str, Any]:
    contact_list = find_list(ctx, p.required_int("list_id"))
    fields = {n: v for n, v in p.custom_fields().items() if v.strip()}
    if not fields:
        raise ApiFailure("MISSING_PARAM", "Field parameter is missing (eg. field_n)")
    contact_list.fields.update(fields)
    if _array_style(p):
        return {
            "fields": [{"name": f"custom_{n}", "value": v} for n, v in sorted(fields.items())],
            "id": contact_list.id,
        }
    return {**{f"custom_{n}": v for n, v in sorted(fields.items())}, "id": contact_list.id}


def _mobile(p: Params) -> str:
    raw = p.required_text("msisdn", max_len=64)
    number = normalise(raw, p.text("countrycode"))
    if number is None:
        if p.text("countrycode"):
            raise ApiFailure("BAD_MOBILE_COUNTRY", "The mobile number is not valid for this country")
        raise ApiFailure("BAD_MOBILE", "The mobile number is invalid")
    return number


def _apply(contact: Contact, p: Params) -> None:
    if "first_name" in p:
        contact.first_name = p.text("first_name") or ""
    if "last_name" in p:
        contact.last_name = p.text("last_name") or ""
    contact.fields.update(p.custom_fields())


def add_to_list(ctx: Context, p: Params) -> dict[str, Any]:
    contact_list = find_list(ctx, p.required_int("list_id"))
    msisdn = _mobile(p)
    if msisdn in ctx.account.optouts:
        raise ApiFailure("OPTOUT", "This contact has opted out")
    contact = contact_list.members.get(msisdn)
    if contact is not None and contact.optout:
        raise ApiFailure("OPTOUT", "This contact has opted out of this list")
    if contact is not None and contact.status == "inactive":
        raise ApiFailure("DUPLICATE_DELETED", "This contact was deleted from this list")
    if contact is None:  # an existing active contact is left as it is (use edit-list-member)
        contact = Contact(list_id=contact_list.id, msisdn=msisdn, created_at=ctx.now)
        _apply(contact, p)
        contact_list.members[msisdn] = contact
        emit_list_action(ctx.sandbox, ctx.account, contact_list, contact, "add", now=ctx.now)
    return contact_view(contact_list, contact, _array_style(p))


def _member(ctx: Context, p: Params) -> tuple[ContactList, Contact]:
    contact_list = find_list(ctx, p.required_int("list_id"))
    contact = contact_list.members.get(normalise(p.required_text("msisdn"), p.text("countrycode")) or "")
    if contact is None:
        raise ApiFailure("NOT_FOUND", "Contact with such mobile does not exist in this list.")
    return contact_list, contact


def edit_list_member(ctx: Context, p: Params) -> dict[str, Any]:
    contact_list, contact = _member(ctx, p)
    _apply(contact, p)
    return contact_view(contact_list, contact, _array_style(p))


def get_contact(ctx: Context, p: Params) -> dict[str, Any]:
    contact_list, contact = _member(ctx, p)
    return contact_view(contact_list, contact, _array_style(p))


def _remove(ctx: Context, p: Params, optout: bool) -> dict[str, Any]:
    list_id = p.integer("list_id") or 0
    msisdn = normalise(p.required_text("msisdn"), p.text("countrycode")) or ""
    lists = [find_list(ctx, list_id)] if list_id else list(ctx.account.lists.values())
    removed: list[int] = []
    for contact_list in lists:
        contact = contact_list.members.get(msisdn)
        if contact is None or (contact.status == "inactive" and (contact.optout or not optout)):
            continue
        contact.status = "inactive"
        contact.optout = contact.optout or optout
        removed.append(contact_list.id)
        emit_list_action(ctx.sandbox, ctx.account, contact_list, contact, "delete", now=ctx.now)
    if optout and not list_id and msisdn:
        ctx.account.optouts.setdefault(msisdn, ctx.now)
    if not removed:
        raise ApiFailure("NOT_FOUND", "Contact with such mobile does not exist in this list.")
    return {"list_ids": removed}


def delete_from_list(ctx: Context, p: Params) -> dict[str, Any]:
    return _remove(ctx, p, optout=False)


def optout_list_member(ctx: Context, p: Params) -> dict[str, Any]:
    return _remove(ctx, p, optout=True)


HANDLERS: dict[str, Handler] = {
    "get-lists": get_lists,
    "get-list": get_list,
    "add-list": add_list,
    "remove-list": remove_list,
    "add-field-to-list": add_field_to_list,
    "add-to-list": add_to_list,
    "edit-list-member": edit_list_member,
    "get-contact": get_contact,
    "delete-from-list": delete_from_list,
    "optout-list-member": optout_list_member,
}
