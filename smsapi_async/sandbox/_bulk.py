"""add-contacts-bulk and add-contacts-bulk-progress: asynchronous CSV import.

The CSV is fetched by the background worker (``http(s)://`` URLs, no redirects, 5 MB at most) or
decoded inline from a ``data:`` URL (``data:text/csv,…`` or ``;base64``), so tests need no server.
A header row naming a ``mobile`` (or ``msisdn``) column maps columns by name (``firstname`` /
``first_name``, ``lastname`` / ``last_name``, custom field names); otherwise columns are Firstname,
Lastname, Mobile, then the custom fields in slot order. Until the worker has run the import, progress
is ``in progress``; a download failure makes it ``failed`` (and the list stays, unlike the real API
which deletes a list it created for a failed import later).
"""

from __future__ import annotations

import base64
import csv
import io
from typing import Any
from urllib.parse import unquote_to_bytes

import httpx

from ._callbacks import AsyncJob
from ._calls_lists import find_list, new_list
from ._lifecycle import emit_list_action
from ._params import ApiFailure, Context, Handler, Params, field_invalid
from ._phone import normalise
from ._state import Account, BulkImport, Contact, ContactList

__all__ = ["HANDLERS"]

MAX_CSV_BYTES = 5_000_000


def _decode_data_url(url: str) -> bytes:
    header, _, data = url[5:].partition(",")
    raw = unquote_to_bytes(data)
    return base64.b64decode(raw, validate=False) if header.endswith(";base64") else raw


def _import(
    ctx: Context, account: Account, contact_list: ContactList, content: bytes, progress: BulkImport
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
    now = ctx.sandbox.clock.now()
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
        else:
            contact = Contact(list_id=contact_list.id, msisdn=msisdn, created_at=now)
            contact_list.members[msisdn] = contact
            progress.imported += 1
            emit_list_action(ctx.sandbox, account, contact_list, contact, "add", now=now)
        if first is not None and first < len(row):
            contact.first_name = row[first].strip()
        if last is not None and last < len(row):
            contact.last_name = row[last].strip()
        for column, slot in custom.items():
            if column < len(row):
                contact.fields[slot] = row[column].strip()
    progress.finished = now


def add_contacts_bulk(ctx: Context, p: Params) -> dict[str, Any]:
    file_url = p.required_text("file_url", max_len=2_000_000).strip()
    lowered = file_url.lower()
    if not lowered.startswith(("http://", "https://", "data:")):
        raise field_invalid("Field 'file_url' must be a http(s) URL")
    list_id = p.integer("list_id")
    if list_id:
        contact_list = find_list(ctx, list_id)
        contact_list.fields.update({n: v for n, v in p.custom_fields().items() if v.strip()})
    elif p.text("name"):
        contact_list = new_list(ctx, p.required_text("name", max_len=255), p.custom_fields())
    else:
        raise field_invalid("You must provide either 'list_id' or 'name'")
    account = ctx.account
    progress = BulkImport(contact_list.id, ctx.now, 0.0, 0, 0, 0, 0, 0, p.text("countrycode"))
    account.imports[contact_list.id] = progress

    async def run(client: httpx.AsyncClient) -> None:
        try:
            if lowered.startswith("data:"):
                content = _decode_data_url(file_url)
            else:
                response = await client.get(file_url, follow_redirects=False)
                response.raise_for_status()
                content = response.content[:MAX_CSV_BYTES]
            _import(ctx, account, contact_list, content, progress)
        except (httpx.HTTPError, OSError, ValueError):
            progress.failed = True
            progress.finished = ctx.sandbox.clock.now()

    ctx.sandbox.callbacks.schedule(ctx.now, AsyncJob(run))
    return {"list_id": contact_list.id}


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
    "add-contacts-bulk": add_contacts_bulk,
    "add-contacts-bulk-progress": add_contacts_bulk_progress,
}
