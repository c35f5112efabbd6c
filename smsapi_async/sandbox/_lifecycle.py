"""The life of a message: recipients' fates, lazily computed delivery states, DLRs, replies, link hits.

Delivery rules (see ``DeliveryRules``): by default a number ending in 9 hard-bounces, one ending in 8
soft-bounces, one ending in 000 never gets a receipt (pending until ``validity`` or ``pending_expiry``,
then soft-bounce); every other number is delivered ``delivery_delay`` seconds after ``send_at``.
A ``validity`` shorter than the delivery delay turns a delivery into a soft-bounce at expiry.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from ._callbacks import DlrDue
from ._report_index import report_index
from ._state import (
    MAX_LIST_MEMBERS,
    Account,
    Contact,
    ContactList,
    Message,
    Recipient,
    Response,
    datetime_text,
)

if TYPE_CHECKING:
    from ._sandbox import Sandbox

__all__ = [
    "STOP_WORDS",
    "counters",
    "emit_list_action",
    "fire_dlr",
    "new_recipient",
    "receive_inbound",
    "recipient_status",
    "record_link_hit",
    "schedule_dlrs",
]

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "OPTOUT", "OPT-OUT", "CANCEL", "END", "QUIT"})


def new_recipient(
    sandbox: Sandbox, msisdn: str, text: str, *, parts: int, send_at: float, validity: int
) -> Recipient:
    config = sandbox.config
    fate = config.delivery_rules.fate(msisdn)
    expiry = validity * 60.0 if validity else config.pending_expiry
    if fate == "pending" or (fate == "delivered" and validity and expiry < config.delivery_delay):
        fate, final_at = "soft-bounce", send_at + expiry
    else:
        final_at = send_at + config.delivery_delay
    row = sandbox.state.next_id("row")
    return Recipient(row_id=row, msisdn=msisdn, text=text, parts=parts, fate=fate, final_at=final_at)


def tracked_link() -> str:
    return "TapTh.is/" + secrets.token_urlsafe(6)[:8]


def recipient_status(recipient: Recipient, now: float) -> str:
    """``pending`` until the receipt arrives, then ``delivered`` / ``soft-bounce`` / ``hard-bounce``."""
    return recipient.fate if now >= recipient.final_at else "pending"


def counters(sandbox: Sandbox, message: Message, now: float) -> dict[str, int]:
    """Per-message counters shared by get-sms, get-sms-stats, get-message-report, ...: the statuses
    of the recipients (none for a cancelled message), ``responses``, ``optouts`` and ``link_hits``.
    Kept in the report index, so asking again costs O(1) until a receipt falls due or a recipient
    changes."""
    index = report_index(sandbox.state)
    index.sync_responses()
    return index.counters(message, now, recipient_status)


def schedule_dlrs(sandbox: Sandbox, message: Message) -> None:
    for index, recipient in enumerate(message.recipients):
        sandbox.callbacks.schedule(recipient.final_at, DlrDue(message.id, index))


def fire_dlr(sandbox: Sandbox, job: DlrDue) -> None:
    """The receipt of one recipient arrives: queue its DLR callback (unless the message was cancelled)."""
    message = sandbox.state.messages.get(job.message_id)
    if message is None or message.cancelled or not 0 <= job.index < len(message.recipients):
        return
    recipient = message.recipients[job.index]
    account = sandbox.state.accounts[message.account_id]
    url = message.dlr_callback or account.dlr_callback
    params = [
        ("message_id", str(message.id)),
        ("mobile", recipient.msisdn),
        ("datetime", datetime_text(recipient.final_at) or ""),
        ("status", recipient.fate),
        ("user_id", str(account.id)),
    ]
    sandbox.callbacks.emit("dlr", account, url, params)


def _last_message_to(sandbox: Sandbox, msisdn: str, account: Account | None) -> Message | None:
    index = report_index(sandbox.state)
    return index.last_sent_to(msisdn, None if account is None else account.id, sandbox.clock.now())


def _opt_out(sandbox: Sandbox, account: Account, msisdn: str, now: float) -> None:
    account.optouts.setdefault(msisdn, now)
    sandbox.state.touch_optout(account, msisdn)
    for contact_list in account.lists.values():
        contact = contact_list.members.get(msisdn)
        if contact is not None and contact.status == "active":
            contact_list.deactivate(contact, optout=True)
            sandbox.state.touch_contact(contact_list, contact)
            emit_list_action(sandbox, account, contact_list, contact, "delete", now=now)


def receive_inbound(
    sandbox: Sandbox,
    *,
    msisdn: str,
    text: str,
    to: str | None = None,
    message_id: int | None = None,
    account: Account | None = None,
) -> Response:
    """An SMS from ``msisdn``: a reply to the last message it got, or inbound to a virtual number.

    STOP words opt the sender out of the account (every list); a first word matching a keyword of the
    number adds the sender to the keyword's list. Fires the reply callback.
    """
    now = sandbox.clock.now()
    state = sandbox.state
    message = state.messages.get(message_id) if message_id else None
    if message_id and message is None:
        raise LookupError(f"no message with id {message_id}")
    if account is None and message is not None:
        account = state.accounts[message.account_id]
    if account is None and to:
        account = state.owner_of_number(to)
    if message is None and message_id is None:
        message = _last_message_to(sandbox, msisdn, account)
    if account is None:
        account = state.accounts[message.account_id] if message else next(iter(state.accounts.values()))
    recipient = report_index(state).recipient(message, msisdn) if message else None
    words = text.strip().split()
    first = words[0].upper() if words else ""
    is_optout = first in STOP_WORDS
    longcode = to or (message.sender if message and message.sender.isdigit() else None)
    keyword = next((k for k in account.keywords if k.keyword.upper() == first and k.number == longcode), None)
    response = Response(
        id=state.next_id("response"),
        account_id=account.id,
        message_id=message.id if message else 0,
        list_id=message.list_id if message else 0,
        received_at=now,
        msisdn=msisdn,
        text=text,
        longcode=longcode,
        first_name=recipient.first_name if recipient else None,
        last_name=recipient.last_name if recipient else None,
        keyword_id=keyword.id if keyword else 0,
        is_optout=is_optout,
    )
    state.add_response(response)
    if is_optout:
        if recipient is not None and message is not None:
            recipient.optout = True
            state.touch_recipient(message, recipient)
            report_index(state).recipient_changed(message)
        _opt_out(sandbox, account, msisdn, now)
    elif keyword is not None and keyword.list_id in account.lists:
        target = account.lists[keyword.list_id]
        if msisdn not in target.members and len(target.members) < MAX_LIST_MEMBERS:
            contact = Contact(list_id=target.id, msisdn=msisdn, created_at=now)
            target.members[msisdn] = contact
            state.touch_contact(target, contact)
            emit_list_action(sandbox, account, target, contact, "add", now=now)
    number = account.numbers.get(longcode or "")
    url = (
        (message.reply_callback if message else "")
        or (keyword.forward_url if keyword else "")
        or (number.forward_url if number else "")
        or account.reply_callback
    )
    params = [
        ("user_id", str(account.id)),
        ("message_id", str(response.message_id)),
        ("response", text),
        ("response_id", str(response.id)),
        ("mobile", msisdn),
        ("longcode", longcode or ""),
        ("datetime_entry", datetime_text(now) or ""),
        ("is_optout", "yes" if is_optout else "no"),
    ]
    sandbox.callbacks.emit("reply", account, url, params)
    return response


def record_link_hit(sandbox: Sandbox, message: Message, recipient: Recipient) -> None:
    now = sandbox.clock.now()
    account = sandbox.state.accounts[message.account_id]
    recipient.link_hits += 1
    sandbox.state.touch_recipient(message, recipient)
    report_index(sandbox.state).recipient_changed(message)
    params = {
        "datetime": datetime_text(now) or "",
        "firstname": recipient.first_name or "",
        "lastname": recipient.last_name or "",
        "link_hits": str(recipient.link_hits),
        "list_id": str(message.list_id),
        "longcode": message.sender,
        "message": recipient.text,
        "message_id": str(message.id),
        "mobile": recipient.msisdn,
        "rate": "10",
        "user_id": str(account.id),
    }
    url = message.link_hits_callback or account.link_hits_callback
    sandbox.callbacks.emit("link-hit", account, url, sorted(params.items()))


def emit_list_action(
    sandbox: Sandbox,
    account: Account,
    contact_list: ContactList,
    contact: Contact,
    action: str,
    *,
    now: float,
) -> None:
    """The list-automation callback (only lists with a forward URL have one)."""
    if not contact_list.forward_url:
        return
    params: dict[str, str] = {
        name: contact.fields.get(slot, "") for slot, name in contact_list.fields.items()
    }
    params.update(
        datetime_entry=datetime_text(now) or "",
        firstname=contact.first_name,
        lastname=contact.last_name,
        list_id=str(contact_list.id),
        mobile=contact.msisdn,
        type=action,
    )
    sandbox.callbacks.emit("list-action", account, contact_list.forward_url, sorted(params.items()))


def delivery_stats(sandbox: Sandbox, message: Message, now: float) -> dict[str, Any]:
    c = counters(sandbox, message, now)
    return {
        "delivered": c["delivered"],
        "pending": c["pending"],
        "bounced": c["soft-bounce"] + c["hard-bounce"],
        "responses": c["responses"],
        "optouts": c["optouts"],
    }
