"""List and contact calls (``client.lists``): get-lists, get-list, add-list, remove-list,
add-field-to-list, add-to-list, edit-list-member, delete-from-list, optout-list-member, get-contact,
add-contacts-bulk, add-contacts-bulk-progress.

Bulk import is asynchronous: the CSV is fetched by the background worker (``http(s)://`` URLs, no
redirects, 5 MB at most) or decoded inline from a ``data:`` URL (``data:text/csv,…`` or ``;base64``), so
tests need no server. A header row naming a ``mobile`` (or ``msisdn``) column maps columns by name
(``firstname`` / ``first_name``, ``lastname`` / ``last_name``, custom field names); otherwise columns
are Firstname, Lastname, Mobile, then the custom fields in slot order. Until the worker has run the
import, progress is ``in progress``; a download failure makes it ``failed`` (and the list stays, unlike
the real API which deletes a list it created for a failed import later).
"""

from __future__ import annotations

import base64
import csv
import io
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

import httpx

from .._callbacks import BulkImportJob, UnusableUrl, check_callback_url
from .._lifecycle import emit_list_action
from .._params import ApiFailure, Context, Handler, Params, field_invalid, paginate, with_items
from .._phone import normalise
from .._state import MAX_LIST_MEMBERS, Account, BulkImport, Contact, ContactList, datetime_text
from ._shared import field_value, find_list, num

if TYPE_CHECKING:
    from .._sandbox import Sandbox

__all__ = ["HANDLERS", "run_bulk_import"]

logger = logging.getLogger("smsapi_async.sandbox")

MAX_LIST_NAME = 255
MAX_CSV_BYTES = 5_000_000
MAX_LISTS = 1_000
"""Lists an account may hold; add-list / add-contacts-bulk beyond it get ``FIELD_INVALID``."""


def _array_style(p: Params) -> bool:
    return p.choice("response_style", ("array", "default"), "default") == "array"


def list_fields(contact_list: ContactList, array: bool) -> Any:
    slots = sorted(contact_list.fields.items())
    if array:
        return [{"name": f"field_{n}", "value": name} for n, name in slots]
    return {f"field_{n}": name for n, name in slots} or []


def _contact_fields(contact_list: ContactList, contact: Contact, array: bool) -> Any:
    values = [
        (name, field_value(contact.fields.get(n, ""))) for n, name in sorted(contact_list.fields.items())
    ]
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
    members = contact_list.members_where(which)
    page, items = paginate(p, members)
    payload = {"page": page, "members_total": len(contact_list.members)}
    payload |= _list_view(contact_list, array)
    return with_items(payload, "members", items, lambda c: contact_view(contact_list, c, array))


def new_list(ctx: Context, name: str, fields: dict[int, str]) -> ContactList:
    if any(lst.name == name for lst in ctx.account.lists.values()):
        raise ApiFailure("KEY_EXISTS", "A list with this name already exists")
    if len(ctx.account.lists) >= MAX_LISTS:
        raise field_invalid(f"An account may hold at most {MAX_LISTS} lists")
    contact_list = ContactList(ctx.sandbox.state.next_id("list"), name, ctx.now)
    contact_list.fields = {n: v for n, v in fields.items() if v.strip()}
    ctx.account.lists[contact_list.id] = contact_list
    ctx.sandbox.state.touch_list(ctx.account, contact_list)
    return contact_list


def add_list(ctx: Context, p: Params) -> dict[str, Any]:
    name = p.required_text("name", max_len=MAX_LIST_NAME)
    contact_list = new_list(ctx, name, p.custom_fields())
    return _list_view(contact_list, _array_style(p))


def remove_list(ctx: Context, p: Params) -> dict[str, Any]:
    contact_list = find_list(ctx, p.required_int("list_id"))
    del ctx.account.lists[contact_list.id]
    ctx.sandbox.state.forget_list(contact_list)
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
    if contact is None and len(contact_list.members) >= MAX_LIST_MEMBERS:
        raise field_invalid(f"A list may hold at most {MAX_LIST_MEMBERS} contacts")
    if contact is None:  # an existing active contact is left as it is (use edit-list-member)
        contact = Contact(list_id=contact_list.id, msisdn=msisdn, created_at=ctx.now)
        _apply(contact, p)
        contact_list.members[msisdn] = contact
        ctx.sandbox.state.touch_contact(contact_list, contact)
        emit_list_action(ctx.sandbox, ctx.account, contact_list, contact, "add", now=ctx.now)
    return contact_view(contact_list, contact, _array_style(p))


def _member(ctx: Context, p: Params, *, checked: bool = False) -> tuple[ContactList, Contact]:
    """The list member named by ``msisdn``; ``checked``: an invalid number is ``BAD_MOBILE`` (as the
    contract lists for ``edit-list-member``) rather than not found."""
    contact_list = find_list(ctx, p.required_int("list_id"))
    number = _mobile(p) if checked else normalise(p.required_text("msisdn"), p.text("countrycode"))
    contact = contact_list.members.get(number or "")
    if contact is None:
        raise ApiFailure("NOT_FOUND", "Contact with such mobile does not exist in this list.")
    return contact_list, contact


def edit_list_member(ctx: Context, p: Params) -> dict[str, Any]:
    contact_list, contact = _member(ctx, p, checked=True)
    _apply(contact, p)
    ctx.sandbox.state.touch_contact(contact_list, contact)
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
        contact_list.deactivate(contact, optout=optout)
        ctx.sandbox.state.touch_contact(contact_list, contact)
        removed.append(contact_list.id)
        emit_list_action(ctx.sandbox, ctx.account, contact_list, contact, "delete", now=ctx.now)
    if not removed:  # nothing above changed unless something was removed
        raise ApiFailure("NOT_FOUND", "Contact with such mobile does not exist in this list.")
    if optout and not list_id:
        ctx.account.optouts.setdefault(msisdn, ctx.now)
        ctx.sandbox.state.touch_optout(ctx.account, msisdn)
    return {"list_ids": removed}


def delete_from_list(ctx: Context, p: Params) -> dict[str, Any]:
    return _remove(ctx, p, optout=False)


def optout_list_member(ctx: Context, p: Params) -> dict[str, Any]:
    return _remove(ctx, p, optout=True)


def _decode_data_url(url: str) -> bytes:
    header, _, data = url[5:].partition(",")
    raw = unquote_to_bytes(data)
    return base64.b64decode(raw, validate=False) if header.endswith(";base64") else raw


def _import(
    sandbox: Sandbox, account: Account, contact_list: ContactList, content: bytes, progress: BulkImport
) -> None:
    rows = [r for r in csv.reader(io.StringIO(content.decode("utf-8-sig", "replace"))) if r]
    names = {name.lower(): n for n, name in contact_list.fields.items()}
    header = [c.strip().lower() for c in rows[0]] if rows else []
    mobile_col = next((i for i, c in enumerate(header) if c in ("mobile", "msisdn")), None)
    if mobile_col is not None:
        rows = rows[1:]
        first = next((i for i, c in enumerate(header) if c in ("firstname", "first_name")), None)
        last = next((i for i, c in enumerate(header) if c in ("lastname", "last_name")), None)
        custom = {i: names[c] for i, c in enumerate(header) if c in names}
    else:
        mobile_col, first, last = 2, 0, 1
        custom = {3 + i: n for i, n in enumerate(sorted(contact_list.fields))}
    progress.importlength = len(rows)
    now = sandbox.clock.now()
    for row in rows:
        cell = row[mobile_col].strip() if mobile_col < len(row) else ""
        msisdn = normalise(cell, progress.countrycode) if cell else None
        if msisdn is None:
            progress.skipped += 1
            continue
        if msisdn in account.optouts:
            progress.optout += 1
            continue
        contact = contact_list.members.get(msisdn)
        if contact is not None:
            progress.duplicates += 1
        elif len(contact_list.members) >= MAX_LIST_MEMBERS:
            progress.skipped += 1
            continue
        else:
            contact = Contact(list_id=contact_list.id, msisdn=msisdn, created_at=now)
            contact_list.members[msisdn] = contact
            progress.imported += 1
            emit_list_action(sandbox, account, contact_list, contact, "add", now=now)
        if first is not None and first < len(row):
            contact.first_name = row[first].strip()
        if last is not None and last < len(row):
            contact.last_name = row[last].strip()
        for column, slot in custom.items():
            if column < len(row):
                contact.fields[slot] = row[column].strip()
        sandbox.state.touch_contact(contact_list, contact)
    progress.finished = now


def add_contacts_bulk(ctx: Context, p: Params) -> dict[str, Any]:
    file_url = p.required_text("file_url", max_len=2_000_000).strip()
    if not file_url.lower().startswith("data:"):
        try:
            file_url = check_callback_url(file_url)
        except UnusableUrl:
            raise field_invalid("Field 'file_url' must be a http(s) URL") from None
    list_id = p.integer("list_id")
    if list_id:
        contact_list = find_list(ctx, list_id)
        contact_list.fields.update({n: v for n, v in p.custom_fields().items() if v.strip()})
    elif p.text("name"):
        contact_list = new_list(ctx, p.required_text("name", max_len=255), p.custom_fields())
    else:
        raise field_invalid("You must provide either 'list_id' or 'name'")
    progress = BulkImport(contact_list.id, ctx.now, 0.0, 0, 0, 0, 0, 0, p.text("countrycode"))
    ctx.account.imports[contact_list.id] = progress
    ctx.sandbox.callbacks.schedule(ctx.now, BulkImportJob(ctx.account.id, contact_list.id, file_url))
    return {"list_id": contact_list.id}


async def _download(client: httpx.AsyncClient, url: str) -> bytes:
    if url.lower().startswith("data:"):
        return _decode_data_url(url)
    async with client.stream("GET", url, follow_redirects=False) as response:
        response.raise_for_status()
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= MAX_CSV_BYTES:
                break
    return b"".join(chunks)[:MAX_CSV_BYTES]


async def run_bulk_import(sandbox: Sandbox, job: BulkImportJob, client: httpx.AsyncClient) -> None:
    """Fetch and import the CSV of an ``add-contacts-bulk`` call (run by the callback worker)."""
    account = sandbox.state.accounts.get(job.account_id)
    contact_list = account.lists.get(job.list_id) if account else None
    progress = account.imports.get(job.list_id) if account else None
    if account is None or contact_list is None or progress is None:
        return  # the list was removed before its import ran
    try:
        content = await _download(client, job.file_url)
        _import(sandbox, account, contact_list, content, progress)
    except Exception as exc:
        logger.warning("sandbox bulk import into list %d failed: %s", job.list_id, exc)
        progress.failed = True
        progress.finished = sandbox.clock.now()
    finally:
        sandbox.state.touch_account(account)  # the import's progress


def add_contacts_bulk_progress(ctx: Context, p: Params) -> dict[str, Any]:
    list_id = p.required_int("list_id")
    progress = ctx.account.imports.get(list_id)
    if progress is None:
        raise ApiFailure("NOT_FOUND", "No import found for this list")
    status = "failed" if progress.failed else "completed" if progress.finished else "in progress"
    return {
        "list_id": list_id,
        "status": status,
        "importlength": progress.importlength,
        "completed": progress.imported + progress.duplicates + progress.skipped + progress.optout,
        "duplicates": progress.duplicates,
        "skipped": progress.skipped,
        "optout": progress.optout,
        "imported": progress.imported,
    }


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
    "add-contacts-bulk": add_contacts_bulk,
    "add-contacts-bulk-progress": add_contacts_bulk_progress,
}
