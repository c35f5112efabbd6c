"""Reporting calls (``client.sms.reports``): get-sms-stats, get-sms-sent, get-sms-delivery-status,
get-message-log, get-link-hits, get-sms-responses, get-user-sms-responses, get-user-sms-sent,
get-sms-sent-count, get-message-report, get-contact-sms-stats."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .._lifecycle import counters, recipient_status, status_rows
from .._params import ApiFailure, Context, Handler, Params, field_empty, field_invalid, paginate, with_items
from .._phone import normalise
from .._state import Message, Recipient, Response, datetime_text
from ._shared import find_client, find_message, money, num, summary

__all__ = ["HANDLERS"]

DAY = 86400.0


def _window(ctx: Context, p: Params, *, default: float, longest: float | None = None) -> tuple[float, float]:
    start, end = p.timestamp("start"), p.timestamp("end")
    end = ctx.now if end is None else end
    start = end - default if start is None else start
    if start > end:
        raise field_invalid("Field 'start' must be before 'end'")
    if longest is not None and end - start > longest:
        raise field_invalid(f"The date range may not exceed {int(longest // DAY)} days")
    return start, end


def _sent_messages(ctx: Context) -> Iterator[Message]:
    for message in ctx.sandbox.state.messages.values():
        mine = message.account_id == ctx.account.id
        if mine and not message.cancelled and message.send_at <= ctx.now:
            yield message


def _response_row(ctx: Context, r: Response, include_original: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": r.id,
        "message_id": r.message_id,
        "list_id": r.list_id,
        "received_at": datetime_text(r.received_at),
        "first_name": r.first_name,
        "last_name": r.last_name,
        "msisdn": num(r.msisdn),
        "response": r.text,
        "longcode": num(r.longcode),
    }
    if include_original:
        message = ctx.sandbox.state.messages.get(r.message_id)
        original = ""
        if message is not None:
            texts = (x.text for x in message.recipients if x.msisdn == r.msisdn)
            original = next(texts, message.text)
        row["original_message"] = original
    return row


def _responses_page(ctx: Context, p: Params, rows: list[Response]) -> dict[str, Any]:
    include_original = p.boolean("include_original", False)
    rows.sort(key=lambda r: (-r.received_at, -r.id))
    page, items = paginate(p, rows)
    return with_items(
        {"page": page, "total": len(rows)},
        "responses",
        items,
        lambda r: _response_row(ctx, r, include_original),
    )


def _mine(ctx: Context) -> list[Response]:
    return [r for r in ctx.sandbox.state.responses if r.account_id == ctx.account.id]


def get_sms_responses(ctx: Context, p: Params) -> dict[str, Any]:
    message_id, keyword_id = p.integer("message_id"), p.integer("keyword_id")
    keyword, number = p.text("keyword"), p.text("number")
    if keyword and not number:
        raise field_invalid("If you provide 'keyword', you must provide 'number'")
    if not (message_id or keyword_id or keyword):
        raise field_empty("message_id")
    rows = _mine(ctx)
    if message_id:
        other = ctx.sandbox.state.messages.get(message_id)
        if other is not None and other.account_id != ctx.account.id:
            raise ApiFailure("NO_ACCESS", "You do not have access to this 'message'")
        find_message(ctx, message_id)
        rows = [r for r in rows if r.message_id == message_id]
    if keyword_id:
        rows = [r for r in rows if r.keyword_id == keyword_id]
    if keyword:
        ids = {
            k.id
            for k in ctx.account.keywords
            if k.keyword.upper() == keyword.upper() and k.number == normalise(number or "")
        }
        rows = [r for r in rows if r.keyword_id in ids]
    if p.text("msisdn"):
        rows = [r for r in rows if r.msisdn == normalise(p.required_text("msisdn"))]
    if p.text("start") or p.text("end"):
        start, end = _window(ctx, p, default=365 * DAY)
        rows = [r for r in rows if start <= r.received_at <= end]
    return _responses_page(ctx, p, rows)


def get_user_sms_responses(ctx: Context, p: Params) -> dict[str, Any]:
    start, end = _window(ctx, p, default=30 * DAY)
    keywords = p.choice("keywords", ("both", "only", "omit"), "both")
    rows = [r for r in _mine(ctx) if start <= r.received_at <= end]
    if keywords == "only":
        rows = [r for r in rows if r.keyword_id]
    elif keywords == "omit":
        rows = [r for r in rows if not r.keyword_id]
    if p.text("number"):
        rows = [r for r in rows if r.longcode == normalise(p.required_text("number"))]
    return _responses_page(ctx, p, rows)


def get_user_sms_sent(ctx: Context, p: Params) -> dict[str, Any]:
    start = p.timestamp("start")
    end = p.timestamp("end")
    if start is None:
        raise field_empty("start")
    if end is None:
        raise field_empty("end")
    wanted = normalise(p.required_text("msisdn")) if p.text("msisdn") else None
    rows: list[tuple[Message, Recipient]] = [
        (m, r)
        for m in _sent_messages(ctx)
        if start <= m.send_at <= end
        for r in m.recipients
        if wanted is None or r.msisdn == wanted
    ]
    rows.sort(key=lambda row: (-row[0].send_at, -row[1].row_id))
    page, items = paginate(p, rows)
    return with_items(
        {"page": page, "total": len(rows)},
        "messages",
        items,
        lambda row: {
            "id": row[1].row_id,
            "message_id": row[0].id,
            "message": row[1].text,
            "sent_at": datetime_text(row[0].send_at),
            "msisdn": num(row[1].msisdn),
            "caller_id": num(row[0].sender),
            "status": recipient_status(row[1], ctx.now),
        },
    )


def get_sms_sent_count(ctx: Context, p: Params) -> dict[str, Any]:
    start, end = _window(ctx, p, default=DAY, longest=7 * DAY)
    client_id = p.integer("client_id")
    target = ctx.account
    if client_id:
        target = find_client(ctx, client_id)
    count = sum(
        m.sms
        for m in ctx.sandbox.state.messages.values()
        if m.account_id == target.id and not m.cancelled and start <= m.send_at <= min(end, ctx.now)
    )
    return {"count": count}


def get_message_report(ctx: Context, p: Params) -> dict[str, Any]:
    start, end = _window(ctx, p, default=DAY, longest=30 * DAY)
    kinds = ("all", "api", "campaign", "quick_sms", "email_sms", "keyword", "test_sms")
    kind = p.choice("type", kinds, "all")
    number = normalise(p.required_text("number")) if p.text("number") else None
    list_id = p.integer("list_id")
    array_style = p.choice("response_style", ("array", "default"), "default") == "array"
    rows = [
        m
        for m in _sent_messages(ctx)
        if start <= m.send_at <= end and kind in ("all", m.type) and (number is None or m.sender == number)
    ]
    rows.sort(key=lambda m: -m.send_at)
    page, items = paginate(p, rows)

    def row(m: Message) -> dict[str, Any]:
        c = counters(ctx.sandbox, m, ctx.now)
        out: dict[str, Any] = {
            "type": m.type,
            "id": m.id,
            "sms": m.sms,
            "cost": -money(m.cost),
            "sent_at": datetime_text(m.send_at),
            "status": "completed",
            "message": m.text,
            "pending": c["pending"],
            "delivered": c["delivered"],
            "soft_bounced": c["soft-bounce"],
            "hard_bounced": c["hard-bounce"],
            "optouts": c["optouts"],
            "responses": c["responses"],
        }
        if len(m.recipients) == 1:
            out["msisdn"] = num(m.recipients[0].msisdn)
            contact_list = ctx.account.lists.get(list_id or 0)
            contact = contact_list.members.get(m.recipients[0].msisdn) if contact_list else None
            if contact_list is not None and contact is not None:
                out["first_name"], out["last_name"] = contact.first_name, contact.last_name
                values = {n: contact.fields.get(s, "") for s, n in contact_list.fields.items()}
                out["fields"] = (
                    [{"name": k, "value": v} for k, v in values.items()] if array_style else values
                ) or []
        return out

    payload = {"page": page, "messages_total": len(rows), "sms_total": sum(m.sms for m in rows)}
    return with_items(payload, "messages", items, row)


def get_contact_sms_stats(ctx: Context, p: Params) -> dict[str, Any]:
    mobile = p.msisdn("mobile", countrycode=p.text("countrycode"))
    start, end = _window(ctx, p, default=ctx.now - ctx.account.created)
    sort_field = p.choice("sort_field", ("delivery_status", "message_id", "datetime_send"), "datetime_send")
    descending = p.choice("order", ("asc", "desc"), "asc") == "desc"
    rows = [
        {
            "message_id": m.id,
            "datetime_send": datetime_text(m.send_at),
            "delivery_status": recipient_status(r, ctx.now),
        }
        for m in _sent_messages(ctx)
        if start <= m.send_at <= end
        for r in m.recipients
        if r.msisdn == mobile
    ]
    rows.sort(key=lambda row: (row[sort_field], row["message_id"]), reverse=descending)
    page, items = paginate(p, rows)
    return with_items({"page": page, "total": len(rows)}, "records", items, dict)


def get_sms_stats(ctx: Context, p: Params) -> dict[str, Any]:
    message = find_message(ctx, p.required_int("message_id"))
    c = counters(ctx.sandbox, message, ctx.now)
    stats = {
        "hard_bounced": c["hard-bounce"],
        "soft_bounced": c["soft-bounce"],
        "total": message.sms,
        "recipientCount": len(message.recipients),
        "delivered": c["delivered"],
        "pending": c["pending"],
        "bounced": c["hard-bounce"] + c["soft-bounce"],
        "responses": c["responses"],
        "opt-outs": c["optouts"],
        "link_hits": c["link_hits"],
    }
    return {"stats": stats}


def get_sms_sent(ctx: Context, p: Params) -> dict[str, Any]:
    message = find_message(ctx, p.required_int("message_id"))
    optouts = p.choice("optouts", ("include", "only", "omit"), "include")
    delivery = p.choice("delivery", ("all", "delivered", "failed", "pending"), "all")
    rows = []
    for recipient, status in status_rows(message, ctx.now):
        if (optouts == "only" and not recipient.optout) or (optouts == "omit" and recipient.optout):
            continue
        group = "failed" if status.endswith("bounce") else status
        if delivery not in ("all", group):
            continue
        rows.append((recipient, status))
    page, items = paginate(p, rows)
    payload = {"page": page, "total": len(rows), "message": summary(ctx, message)}
    return with_items(
        payload,
        "recipients",
        items,
        lambda row: {
            "msisdn": num(row[0].msisdn),
            "first_name": row[0].first_name,
            "last_name": row[0].last_name,
            "delivery_status": row[1],
            "optout": row[0].optout,
        },
    )


def _recipient(message: Message, raw: str) -> Recipient:
    number = normalise(raw)
    for recipient in message.recipients:
        if recipient.msisdn == number:
            return recipient
    raise ApiFailure("NOT_FOUND", "This message was not sent to this number")


def get_sms_delivery_status(ctx: Context, p: Params) -> dict[str, Any]:
    message_id, msisdn = p.required_int("message_id"), p.required_text("msisdn")
    recipient = _recipient(message := find_message(ctx, message_id), msisdn)
    status = "pending" if message.cancelled else recipient_status(recipient, ctx.now)
    stats = {
        "message_id": message.id,
        "sender_id": num(message.sender),
        "mobile": num(recipient.msisdn),
        "send_at": datetime_text(message.send_at),
        "datetime": None if status == "pending" else datetime_text(recipient.final_at),
        "status": "failed" if status.endswith("bounce") else status,
        "message": recipient.text,
    }
    return {"stats": stats}


def get_message_log(ctx: Context, p: Params) -> dict[str, Any]:
    message_id, mobile = p.required_int("message_id"), p.required_text("mobile")
    recipient = _recipient(message := find_message(ctx, message_id), mobile)
    return {
        "message_id": message.id,
        "message": recipient.text,
        "mobile": num(recipient.msisdn),
        "caller_id": num(message.sender),
        "datetime_send": datetime_text(message.send_at),
    }


def get_link_hits(ctx: Context, p: Params) -> dict[str, Any]:
    message = find_message(ctx, p.required_int("message_id"))
    hits = [r for r in message.recipients if r.link_hits]
    page, items = paginate(p, hits)
    payload = {"page": page, "total": len(hits)}
    return with_items(
        payload,
        "hits",
        items,
        lambda r: {
            "mobile": num(r.msisdn),
            "first_name": r.first_name,
            "last_name": r.last_name,
            "link_hits": r.link_hits,
        },
    )


HANDLERS: dict[str, Handler] = {
    "get-sms-stats": get_sms_stats,
    "get-sms-sent": get_sms_sent,
    "get-sms-delivery-status": get_sms_delivery_status,
    "get-message-log": get_message_log,
    "get-link-hits": get_link_hits,
    "get-sms-responses": get_sms_responses,
    "get-user-sms-responses": get_user_sms_responses,
    "get-user-sms-sent": get_user_sms_sent,
    "get-sms-sent-count": get_sms_sent_count,
    "get-message-report": get_message_report,
    "get-contact-sms-stats": get_contact_sms_stats,
}
