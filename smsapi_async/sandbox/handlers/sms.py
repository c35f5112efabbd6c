"""SMS calls (``client.sms``): send-sms, cancel-sms, get-sms, message-reply, format-number."""

from __future__ import annotations

import re
from typing import Any

from ..._sms_text import MAX_MESSAGE_LENGTH, count_parts
from .._lifecycle import new_recipient, schedule_dlrs, tracked_link
from .._params import ApiFailure, Context, Handler, Params, field_invalid
from .._phone import format_number, normalise
from .._report_index import report_index
from .._state import Message, Recipient
from ._shared import approved_senders, find_message, summary, url_param

__all__ = ["HANDLERS", "SHARED_NUMBER"]

SHARED_NUMBER = "61437000000"
MAX_TO = 500
_ALPHA_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9]{1,11}\Z")


def _sender(ctx: Context, raw: str | None, from_shared: bool) -> str:
    """The sender: an alphanumeric ID, a leased number that is active, or an approved mobile sender
    (``AccountConfig.sender_ids``); anything else is ``BAD_CALLER_ID``."""
    numbers = [n for n in ctx.account.numbers.values() if n.status == "active"]
    if not raw:
        return SHARED_NUMBER if from_shared or not numbers else numbers[0].number
    value = raw.strip()
    if _ALPHA_SENDER.match(value):
        return value
    number = normalise(value)
    owned = ctx.account.numbers.get(number or "")
    if number is None or (owned is not None and owned.status != "active"):
        raise ApiFailure("BAD_CALLER_ID", "The sender ID is invalid or inactive")
    if owned is None and number not in approved_senders(ctx)["Mobile Number"]:
        raise ApiFailure(
            "BAD_CALLER_ID", "The sender ID is not a number leased by or approved for this account"
        )
    return number


def _render(template: str, values: dict[str, str], link: str) -> str:
    text = template.replace("[tracked-link]", link) if link else template
    text = text.replace("[unsub-reply-link]", "UnsubRep.ly/sandbox")
    for name, value in values.items():
        pattern = re.compile(re.escape(f"[{name}]"), re.IGNORECASE)
        text = pattern.sub(value.replace("\\", "\\\\"), text)
    return text


def create_message(ctx: Context, p: Params, text: str, to: str | None, sender: str) -> Message:
    """Validate recipients and funds, then create, debit and schedule a message."""
    state, account, now = ctx.sandbox.state, ctx.account, ctx.now
    list_id = p.integer("list_id")
    send_at = max(p.timestamp("send_at") or now, now)
    validity = p.integer("validity") or 0
    tracked_url = url_param(p, "tracked_link_url")
    targets: list[tuple[str, str | None, str | None, dict[str, str]]] = []
    message_type, list_name = "api", ""
    if list_id:
        contact_list = account.lists.get(list_id)
        if contact_list is None:
            raise ApiFailure("NOT_FOUND", "List with this ID does not exist")
        message_type, list_name = "campaign", contact_list.name
        for c in contact_list.active_members():
            fields = {name: c.fields.get(slot, "") for slot, name in contact_list.fields.items()}
            fields |= {"firstname": c.first_name, "lastname": c.last_name, "mobile": c.msisdn}
            targets.append((c.msisdn, c.first_name, c.last_name, fields))
        if not targets:
            raise ApiFailure("LIST_EMPTY", "The list has no active members")
    else:
        raw_numbers = [n for n in (to or "").split(",") if n.strip()]
        if len(raw_numbers) > MAX_TO:
            raise field_invalid(f"Field 'to' has more than {MAX_TO} numbers")
        seen: set[str] = set()
        for raw in raw_numbers:
            number = normalise(raw, p.text("countrycode"))
            if number is not None and number not in seen:
                seen.add(number)
                targets.append((number, None, None, {"mobile": number}))
    targets = [t for t in targets if t[0] not in account.optouts]
    if not targets:
        raise ApiFailure("RECIPIENTS_ERROR", "No valid recipients left to send to")
    recipients: list[Recipient] = []
    for msisdn, first, last, values in targets:
        rendered = _render(text, values, tracked_link() if tracked_url else "")
        recipient = new_recipient(
            ctx.sandbox,
            msisdn,
            rendered,
            parts=count_parts(rendered).parts,
            send_at=send_at,
            validity=validity,
        )
        recipient.first_name, recipient.last_name, recipient.list_id = first, last, list_id or 0
        recipients.append(recipient)
    cost = round(sum(r.parts for r in recipients) * ctx.sandbox.config.price_per_sms, 3)
    if cost > account.balance + 1e-9:
        raise ApiFailure("LEDGER_ERROR", "Insufficient funds to send this message")
    message = Message(
        id=state.next_id("message"),
        account_id=account.id,
        text=text,
        sender=sender,
        created=now,
        send_at=send_at,
        type=message_type,
        recipients=recipients,
        cost=cost,
        list_id=list_id or 0,
        list_name=list_name,
        validity=validity,
        dlr_callback=url_param(p, "dlr_callback"),
        reply_callback=url_param(p, "reply_callback"),
        link_hits_callback=url_param(p, "link_hits_callback"),
        tracked_link_url=tracked_url,
        replies_to_email=p.text("replies_to_email") or "",
    )
    state.add_message(message)
    state.record_transaction(
        account, now, -cost, description=f"Message Send - {message.id}", type_id=1, message_id=message.id
    )
    schedule_dlrs(ctx.sandbox, message)
    return message


def send_sms(ctx: Context, p: Params) -> dict[str, Any]:
    text = p.required_text("message", max_len=MAX_MESSAGE_LENGTH)
    to = p.text("to")
    if not to and not p.integer("list_id"):
        raise field_invalid("You must provide either 'list_id' or 'to'")
    sender = _sender(ctx, p.text("from"), p.boolean("from_shared", False))
    return summary(ctx, create_message(ctx, p, text, to, sender), just_sent=True)


def cancel_sms(ctx: Context, p: Params) -> dict[str, Any]:
    message = find_message(ctx, p.required_int("id"))
    if message.cancelled or message.send_at <= ctx.now:
        raise ApiFailure("ALREADY_SENT", "This message is already sent or can not be cancelled")
    message.cancelled = True
    report_index(ctx.sandbox.state).cancelled(message)
    ctx.sandbox.state.record_transaction(
        ctx.account,
        ctx.now,
        message.cost,
        description=f"Message Refund - {message.id}",
        type_id=2,
        message_id=message.id,
    )
    return {"success": "OK"}


def get_sms(ctx: Context, p: Params) -> dict[str, Any]:
    return summary(ctx, find_message(ctx, p.required_int("message_id")), with_text=True)


def message_reply(ctx: Context, p: Params) -> dict[str, Any]:
    text = p.required_text("message", max_len=MAX_MESSAGE_LENGTH)
    to = p.required_text("to")
    create_message(ctx, p, text, to, _sender(ctx, p.text("from"), False))
    return {"result": "SYSTEM: Message response handled\n"}


def format_number_call(ctx: Context, p: Params) -> dict[str, Any]:
    raw = p.required_text("msisdn", max_len=64)
    result = format_number(raw, p.required_text("countrycode", max_len=64))
    return {
        "number": {
            "countrycode": result.countrycode,
            "nationalnumber": result.nationalnumber,
            "national_leading_zeroes": result.nationalnumber,
            "rawinput": None,
            "international": result.international,
            "type": result.type,
            "isValid": result.is_valid,
        }
    }


HANDLERS: dict[str, Handler] = {
    "send-sms": send_sms,
    "cancel-sms": cancel_sms,
    "get-sms": get_sms,
    "message-reply": message_reply,
    "format-number": format_number_call,
}
