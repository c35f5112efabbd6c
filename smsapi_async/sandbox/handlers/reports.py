"""Reporting calls (``client.sms.reports``): get-sms-stats, get-sms-sent, get-sms-delivery-status,
get-message-log, get-link-hits, get-sms-responses, get-user-sms-responses, get-user-sms-sent,
get-sms-sent-count, get-message-report, get-contact-sms-stats."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .._lifecycle import counters, recipient_status
from .._params import (
    ApiFailure,
    Context,
    Handler,
    Params,
    field_empty,
    field_invalid,
    paginate,
    paginate_window,
    with_items,
)
from .._phone import normalise
from .._report_index import ReportIndex, Selection, SentRow, Timeline, report_index, select
from .._state import Message, Recipient, Response, datetime_text
from ._shared import field_value, find_client, find_message, money, num, summary

__all__ = ["HANDLERS"]

DAY = 86400.0
T = TypeVar("T")


def _window(ctx: Context, p: Params, *, default: float, longest: float | None = None) -> tuple[float, float]:
    start, end = p.timestamp("start"), p.timestamp("end")
    end = ctx.now if end is None else end
    start = end - default if start is None else start
    if start > end:
        raise field_invalid("Field 'start' must be before 'end'")
    if longest is not None and end - start > longest:
        raise field_invalid(f"The date range may not exceed {int(longest // DAY)} days")
    return start, end


def _index(ctx: Context) -> ReportIndex:
    """The report index, caught up with the state at ``ctx.now`` (see ``_report_index.py``)."""
    index = report_index(ctx.sandbox.state)
    index.sync(ctx.now)
    return index


def _page(p: Params, found: Selection[T]) -> tuple[dict[str, int], list[T]]:
    page, items = paginate_window(p, found.total, found.page)
    return page, list(items)


def _by(where: dict[int, dict[Any, Timeline[T]]], account_id: int, key: Any) -> Timeline[T] | None:
    return where.get(account_id, {}).get(key)


# In report rows (replies, recipients, link hits) a name never given is null, as every recorded
# report prints it; a contact's own answers (add-to-list, get-contact) print it as "".


def _response_row(ctx: Context, r: Response, include_original: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": r.id,
        "message_id": r.message_id,
        "list_id": r.list_id,
        "received_at": datetime_text(r.received_at),
        "first_name": r.first_name or None,
        "last_name": r.last_name or None,
        "msisdn": num(r.msisdn),
        "response": r.text,
        "longcode": num(r.longcode),
    }
    if include_original:
        message = ctx.sandbox.state.messages.get(r.message_id)
        original = ""
        if message is not None:
            recipient = report_index(ctx.sandbox.state).recipient(message, r.msisdn)
            original = message.text if recipient is None else recipient.text
        row["original_message"] = original
    return row


def _responses_page(ctx: Context, p: Params, found: Selection[Response]) -> dict[str, Any]:
    include_original = p.boolean("include_original", False)
    page, items = _page(p, found)  # newest first: by received_at, then id, descending
    return with_items(
        {"page": page, "total": found.total},
        "responses",
        items,
        lambda r: _response_row(ctx, r, include_original),
    )


def get_sms_responses(ctx: Context, p: Params) -> dict[str, Any]:
    message_id, keyword_id = p.integer("message_id"), p.integer("keyword_id")
    keyword, number = p.text("keyword"), p.text("number")
    if keyword and not number:
        raise field_invalid("If you provide 'keyword', you must provide 'number'")
    if not (message_id or keyword_id or keyword):
        raise field_empty("message_id")
    index, me = _index(ctx), ctx.account.id
    filters: list[tuple[Timeline[Response] | None, Callable[[Response], bool]]] = []
    if message_id:
        other = ctx.sandbox.state.messages.get(message_id)
        if other is not None and other.account_id != ctx.account.id:
            raise ApiFailure("NO_ACCESS", "You do not have access to this 'message'")
        find_message(ctx, message_id)
        filters.append((_by(index.replies_to_message, me, message_id), lambda r: r.message_id == message_id))
    if keyword_id:
        filters.append((_by(index.replies_to_keyword, me, keyword_id), lambda r: r.keyword_id == keyword_id))
    if keyword:
        ids = {
            k.id
            for k in ctx.account.keywords
            if k.keyword.upper() == keyword.upper() and k.number == normalise(number or "")
        }
        only = _by(index.replies_to_keyword, me, next(iter(ids))) if len(ids) == 1 else None
        filters.append((only if len(ids) < 2 else index.replies.get(me), lambda r: r.keyword_id in ids))
    if p.text("msisdn"):
        sender = normalise(p.required_text("msisdn"))
        filters.append((_by(index.replies_from, me, sender), lambda r: r.msisdn == sender))
    start = end = None
    if p.text("start") or p.text("end"):
        start, end = _window(ctx, p, default=365 * DAY)
    everything = index.replies.get(me) or index.empty_replies()
    return _responses_page(ctx, p, select(everything, filters, start, end))


def get_user_sms_responses(ctx: Context, p: Params) -> dict[str, Any]:
    start, end = _window(ctx, p, default=30 * DAY)
    keywords = p.choice("keywords", ("both", "only", "omit"), "both")
    index, me = _index(ctx), ctx.account.id
    filters: list[tuple[Timeline[Response] | None, Callable[[Response], bool]]] = []
    if keywords != "both":
        wanted = keywords == "only"
        filters.append((_by(index.replies_keyworded, me, wanted), lambda r: bool(r.keyword_id) == wanted))
    if p.text("number"):
        longcode = normalise(p.required_text("number"))
        filters.append((_by(index.replies_at, me, longcode), lambda r: r.longcode == longcode))
    everything = index.replies.get(me) or index.empty_replies()
    return _responses_page(ctx, p, select(everything, filters, start, end))


def _sent_row(ctx: Context, row: SentRow) -> dict[str, Any]:
    message, recipient = row
    return {
        "id": recipient.row_id,
        "message_id": message.id,
        "message": recipient.text,
        "sent_at": datetime_text(message.send_at),
        "msisdn": num(recipient.msisdn),
        "caller_id": num(message.sender),
        "status": recipient_status(recipient, ctx.now),
    }


def get_user_sms_sent(ctx: Context, p: Params) -> dict[str, Any]:
    start = p.timestamp("start")
    end = p.timestamp("end")
    if start is None:
        raise field_empty("start")
    if end is None:
        raise field_empty("end")
    wanted = normalise(p.required_text("msisdn")) if p.text("msisdn") else None
    index, me = _index(ctx), ctx.account.id
    everything = index.sent.get(me) or index.empty_rows()
    filters = (
        [] if wanted is None else [(_by(index.sent_to, me, wanted), lambda row: row[1].msisdn == wanted)]
    )
    # newest first: by send time, then recipient row id, descending; only messages sent by now
    found = select(everything, filters, start, min(end, ctx.now))
    page, items = _page(p, found)
    return with_items(
        {"page": page, "total": found.total}, "messages", items, lambda row: _sent_row(ctx, row)
    )


def _messages(
    ctx: Context,
    account_id: int,
    window: tuple[float, float],
    *,
    kind: str = "all",
    number: str | None = None,
) -> Selection[Message]:
    """The account's messages sent within ``[start, end]`` (and by now), newest first (ties: oldest
    id first), of one ``kind`` unless ``all``, from one ``number`` unless ``None``."""
    index = _index(ctx)
    filters: list[tuple[Timeline[Message] | None, Callable[[Message], bool]]] = []
    if kind != "all":
        filters.append((_by(index.messages_of_type, account_id, kind), lambda m: m.type == kind))
    if number is not None:
        filters.append((_by(index.messages_from, account_id, number), lambda m: m.sender == number))
    everything = index.messages.get(account_id) or index.empty_messages()
    return select(everything, filters, window[0], min(window[1], ctx.now))


def get_sms_sent_count(ctx: Context, p: Params) -> dict[str, Any]:
    start, end = _window(ctx, p, default=DAY, longest=7 * DAY)
    client_id = p.integer("client_id")
    target = ctx.account
    if client_id:
        target = find_client(ctx, client_id)
    found = _messages(ctx, target.id, (start, end))
    return {"count": found.weight(report_index(ctx.sandbox.state).sms)}


def get_message_report(ctx: Context, p: Params) -> dict[str, Any]:
    start, end = _window(ctx, p, default=DAY, longest=30 * DAY)
    kinds = ("all", "api", "campaign", "quick_sms", "email_sms", "keyword", "test_sms")
    kind = p.choice("type", kinds, "all")
    number = normalise(p.required_text("number")) if p.text("number") else None
    list_id = p.integer("list_id")
    array_style = p.choice("response_style", ("array", "default"), "default") == "array"
    found = _messages(ctx, ctx.account.id, (start, end), kind=kind, number=number)
    page, items = _page(p, found)
    index = report_index(ctx.sandbox.state)

    def row(m: Message) -> dict[str, Any]:
        c = counters(ctx.sandbox, m, ctx.now)
        out: dict[str, Any] = {
            "type": m.type,
            "id": m.id,
            "sms": index.sms(m),
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
                values = {n: field_value(contact.fields.get(s, "")) for s, n in contact_list.fields.items()}
                out["fields"] = (
                    [{"name": k, "value": v} for k, v in values.items()] if array_style else values
                ) or []
        return out

    payload = {"page": page, "messages_total": found.total, "sms_total": found.weight(index.sms)}
    return with_items(payload, "messages", items, row)


def get_contact_sms_stats(ctx: Context, p: Params) -> dict[str, Any]:
    mobile = p.msisdn("mobile", countrycode=p.text("countrycode"))
    start, end = _window(ctx, p, default=ctx.now - ctx.account.created)
    sort_field = p.choice("sort_field", ("delivery_status", "message_id", "datetime_send"), "datetime_send")
    descending = p.choice("order", ("asc", "desc"), "asc") == "desc"
    index = _index(ctx)
    to_mobile = _by(index.sent_to, ctx.account.id, mobile) or index.empty_rows()
    found = select(to_mobile, [], start, min(end, ctx.now))  # only this number's messages
    rows = [
        {
            "message_id": m.id,
            "datetime_send": datetime_text(m.send_at),
            "delivery_status": recipient_status(r, ctx.now),
        }
        for m, r in found.page(0, found.total)
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
        "total": report_index(ctx.sandbox.state).sms(message),
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

    def status(recipient: Recipient) -> str:
        return "pending" if message.cancelled else recipient_status(recipient, ctx.now)

    def wanted(recipient: Recipient) -> bool:
        if (optouts == "only" and not recipient.optout) or (optouts == "omit" and recipient.optout):
            return False
        group = "failed" if status(recipient).endswith("bounce") else status(recipient)
        return delivery in ("all", group)

    rows: list[Recipient] = message.recipients
    if (optouts, delivery) != ("include", "all"):  # kept while no receipt falls due and nobody changes
        index = report_index(ctx.sandbox.state)
        rows = index.filtered(
            message, ctx.now, optouts, delivery, lambda: list(filter(wanted, message.recipients))
        )
    page, items = paginate(p, rows)
    payload = {"page": page, "total": len(rows), "message": summary(ctx, message)}
    return with_items(
        payload,
        "recipients",
        items,
        lambda r: {
            "msisdn": num(r.msisdn),
            "first_name": r.first_name or None,
            "last_name": r.last_name or None,
            "delivery_status": status(r),
            "optout": r.optout,
        },
    )


def _recipient(ctx: Context, message: Message, raw: str) -> Recipient:
    recipient = report_index(ctx.sandbox.state).recipient(message, normalise(raw))
    if recipient is None:
        raise ApiFailure("NOT_FOUND", "This message was not sent to this number")
    return recipient


def get_sms_delivery_status(ctx: Context, p: Params) -> dict[str, Any]:
    message_id, msisdn = p.required_int("message_id"), p.required_text("msisdn")
    recipient = _recipient(ctx, message := find_message(ctx, message_id), msisdn)
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
    recipient = _recipient(ctx, message := find_message(ctx, message_id), mobile)
    return {
        "message_id": message.id,
        "message": recipient.text,
        "mobile": num(recipient.msisdn),
        "caller_id": num(message.sender),
        "datetime_send": datetime_text(message.send_at),
    }


def get_link_hits(ctx: Context, p: Params) -> dict[str, Any]:
    message = find_message(ctx, p.required_int("message_id"))
    hits = report_index(ctx.sandbox.state).link_hits(message)
    page, items = paginate(p, hits)
    payload = {"page": page, "total": len(hits)}
    return with_items(
        payload,
        "hits",
        items,
        lambda r: {
            "mobile": num(r.msisdn),
            "first_name": r.first_name or None,
            "last_name": r.last_name or None,
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
