"""In-memory state of the sandbox: accounts and everything they own.

Entities are plain mutable ``attrs`` classes; the rules of the message lifecycle live in
``_lifecycle.py`` and the call handlers in ``handlers/``.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import attrs

from ._config import AccountConfig, SandboxConfig

__all__ = [
    "MAX_LIST_MEMBERS",
    "Account",
    "BulkImport",
    "Changes",
    "Contact",
    "ContactList",
    "Keyword",
    "Message",
    "Recipient",
    "Response",
    "State",
    "Transaction",
    "VirtualNumber",
    "date_text",
    "datetime_text",
]


def datetime_text(timestamp: float | None) -> str | None:
    """``YYYY-MM-DD HH:MM:SS`` in UTC, the API's timestamp format."""
    if timestamp is None:
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(timestamp))


def date_text(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


MONTH = 30 * 86400.0
MAX_LIST_MEMBERS = 100_000
"""Members a list may hold (active or not): add-to-list beyond it gets ``FIELD_INVALID``, imported
rows beyond it are counted as skipped, and keyword sign-ups beyond it are not added."""


@attrs.define
class VirtualNumber:
    number: str
    price: float
    leased_at: float
    status: str = "active"
    auto_renew: bool = True
    forward_url: str = ""
    forward_email: str = ""
    forward_sms: str = ""
    list_id: int = 0
    welcome_message: str = ""
    members_message: str = ""

    def next_charge(self) -> str | None:
        return date_text(self.leased_at + MONTH) if self.status == "active" else None


@attrs.define
class Contact:
    list_id: int
    msisdn: str
    created_at: float
    first_name: str = ""
    last_name: str = ""
    status: str = "active"  # active / inactive
    optout: bool = False
    fields: dict[int, str] = attrs.Factory(dict)


@attrs.define
class ContactList:
    id: int
    name: str
    created: float | None
    fields: dict[int, str] = attrs.Factory(dict)
    members: dict[str, Contact] = attrs.Factory(dict)
    forward_url: str = ""  # the AUTOMATION "Forward to URL" (list-action callbacks)
    # Not saved: the members with each status, in insertion order, rebuilt only after a member is
    # added or deactivated, so that paging through an unchanged list costs O(page), not O(list).
    _views: dict[str, list[Contact]] = attrs.field(init=False, factory=dict, repr=False, eq=False)
    _views_key: tuple[int, int] = attrs.field(init=False, default=(-1, 0), repr=False, eq=False)
    _changes: int = attrs.field(init=False, default=0, repr=False, eq=False)

    def members_where(self, which: str) -> list[Contact]:
        """The members with status ``which`` (``active`` / ``inactive``), or ``all``, or none (any
        other value), oldest first. Members are never removed from ``members`` (deleting one makes
        it inactive through :meth:`deactivate`), so the count and the change counter tell whether
        the cached view is current. Do not modify the list returned."""
        key = (len(self.members), self._changes)
        if key != self._views_key:
            self._views, self._views_key = {}, key
        view = self._views.get(which)
        if view is None:
            members = self.members.values()
            view = list(members) if which == "all" else [c for c in members if c.status == which]
            self._views[which] = view
        return view

    def active_members(self) -> list[Contact]:
        return self.members_where("active")

    def deactivate(self, contact: Contact, *, optout: bool) -> None:
        """Mark a member deleted from the list (and opted out of it when ``optout``)."""
        contact.status = "inactive"
        contact.optout = contact.optout or optout
        self._changes += 1


@attrs.define
class Recipient:
    row_id: int
    msisdn: str
    text: str
    parts: int
    fate: str  # delivered / soft-bounce / hard-bounce (pending fates are resolved at send time)
    final_at: float  # when the DLR arrives
    first_name: str | None = None
    last_name: str | None = None
    list_id: int = 0
    link_hits: int = 0
    optout: bool = False


@attrs.define
class Message:
    id: int
    account_id: int
    text: str
    sender: str
    created: float
    send_at: float
    type: str  # api / campaign
    recipients: list[Recipient] = attrs.Factory(list)
    cost: float = 0.0
    list_id: int = 0
    list_name: str = ""
    validity: int = 0
    dlr_callback: str = ""
    reply_callback: str = ""
    link_hits_callback: str = ""
    tracked_link_url: str = ""
    replies_to_email: str = ""
    cancelled: bool = False

    @property
    def sms(self) -> int:
        return sum(r.parts for r in self.recipients)


@attrs.define
class Response:
    id: int
    account_id: int
    message_id: int
    list_id: int
    received_at: float
    msisdn: str
    text: str
    longcode: str | None
    first_name: str | None = None
    last_name: str | None = None
    keyword_id: int = 0
    is_optout: bool = False


@attrs.define
class Keyword:
    id: int
    keyword: str
    number: str
    created: float
    reference: str = ""
    list_id: int = 0
    welcome_message: str = ""
    member_message: str = ""
    forward_url: str = ""
    forward_sms: str = ""
    forward_email: str = ""
    status: str = "open"


@attrs.define
class Transaction:
    id: int
    user_id: int
    description: str
    amount: float
    balance_standing: float
    created: float
    type_id: int
    type_description: str
    message_id: int = 0


@attrs.define
class BulkImport:
    list_id: int
    started: float
    finished: float
    importlength: int
    duplicates: int
    skipped: int
    optout: int
    imported: int
    countrycode: str | None = None
    failed: bool = False


@attrs.define
class Account:
    id: int
    api_key: str
    api_secret: str
    name: str
    email: str
    created: float
    balance: float
    currency: str
    timezone: str
    reseller: bool = False
    parent_id: int | None = None
    contact: str = ""
    msisdn: str = ""
    password: str = ""
    client_pays: bool = True
    sms_margin: float = 0.0
    number_margin: float = 0.0
    payment_method: str = ""
    fixed_top_up_amount: float = 0.0
    dlr_callback: str = ""
    reply_callback: str = ""
    link_hits_callback: str = ""
    numbers: dict[str, VirtualNumber] = attrs.Factory(dict)
    lists: dict[int, ContactList] = attrs.Factory(dict)
    keywords: list[Keyword] = attrs.Factory(list)
    emails: dict[str, dict[str, str]] = attrs.Factory(dict)
    optouts: dict[str, float] = attrs.Factory(dict)  # global opt-out list: msisdn -> when
    transactions: list[Transaction] = attrs.Factory(list)
    imports: dict[int, BulkImport] = attrs.Factory(dict)


_FIRST_IDS = {
    "account": 54911,
    "message": 340_000_001,
    "row": 937_000_001,
    "list": 4_200_001,
    "response": 36_500_001,
    "keyword": 1001,
    "transaction": 17_400_001,
    "number": 1,
}


class Changes:
    """The records changed since the last save (``--db``), so a save writes only those.

    A record is ``(kind, key)``: one account (without its lists, transactions and opt-outs), one
    list (without its members), one contact, one message (without its recipients), one recipient,
    one response, one transaction, one opt-out, one callback delivery, one queued job. ``rows`` maps
    each changed record to the live object to write (``None``: delete it), in the order they were
    first marked, which keeps insertion order for contacts and opt-outs. ``everything`` asks for a
    full rewrite (a fresh or reset state). Every code path that changes the state marks what it
    changed; ``tests/sandbox/test_sandbox_persist_incremental.py`` drives every call and compares the file
    with a full rewrite after each, so a missed mark fails the suite.
    """

    def __init__(self, *, everything: bool = False) -> None:
        self.rows: dict[tuple[str, str], Any] = {}
        self.dropped: list[tuple[str, str]] = []  # (kind, key prefix): every record under it
        self.everything = everything
        # a served sandbox changes state in its server's thread, a test may in its own
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self.rows or self.dropped or self.everything)

    def put(self, kind: str, key: object, value: object) -> None:
        with self._lock:
            self.rows[(kind, str(key))] = value

    def drop(self, kind: str, key: object) -> None:
        self.put(kind, key, None)

    def drop_under(self, kind: str, prefix: str) -> None:
        """Delete every ``kind`` record whose key starts with ``prefix`` (and forget pending ones)."""
        with self._lock:
            for row in [r for r in self.rows if r[0] == kind and r[1].startswith(prefix)]:
                del self.rows[row]
            self.dropped.append((kind, prefix))

    def discard(self) -> None:
        """Forget what changed: nothing will save it (a sandbox without ``--db``), and keeping it
        would grow with every call for as long as the sandbox runs. A save after this (a store
        attached later) must then be a full rewrite."""
        with self._lock:
            self.rows, self.dropped, self.everything = {}, [], True

    def give_back(self, taken: Changes) -> None:
        """Put back what :meth:`take` returned (its save failed): the next save writes it."""
        with self._lock:
            rows, self.rows = self.rows, dict(taken.rows)
            self.rows.update(rows)  # what changed since is newer
            self.dropped = taken.dropped + self.dropped
            self.everything = self.everything or taken.everything

    def take(self) -> Changes:
        """What changed so far; starts a new, empty set."""
        taken = Changes(everything=self.everything)
        with self._lock:
            taken.rows, taken.dropped = self.rows, self.dropped
            self.rows, self.dropped, self.everything = {}, [], False
        return taken


class State:
    """All accounts, messages and responses, plus the id counters.

    ``changes`` records what was changed since the last save; the ``touch_*`` and ``add_*`` methods
    mark a record (see :class:`Changes`).
    """

    def __init__(self, config: SandboxConfig, now: float) -> None:
        self.config = config
        self.changes = Changes(everything=True)
        self.accounts: dict[int, Account] = {}
        self.by_key: dict[str, Account] = {}
        self.messages: dict[int, Message] = {}
        self.responses: list[Response] = []
        self._ids = dict(_FIRST_IDS)
        for account in config.accounts:
            self.add_account(account, now)

    @classmethod
    def restored(
        cls,
        config: SandboxConfig,
        accounts: list[Account],
        messages: list[Message],
        responses: list[Response],
        ids: dict[str, int],
    ) -> State:
        """A state rebuilt from saved parts (see ``_persist.py``)."""
        state = cls.__new__(cls)
        state.config = config
        state.accounts = {a.id: a for a in accounts}
        state.by_key = {a.api_key: a for a in accounts}
        state.messages = {m.id: m for m in messages}
        state.responses = list(responses)
        state._ids = {**_FIRST_IDS, **{k: v for k, v in ids.items() if k in _FIRST_IDS}}
        state.changes = Changes()
        return state

    # Marking what changed (see ``Changes``); each is O(1).

    def touch_account(self, account: Account) -> None:
        """The account's own fields, numbers, keywords, e-mail senders or import progress changed."""
        self.changes.put("account", account.id, account)

    def touch_list(self, account: Account, contact_list: ContactList) -> None:
        """The list's own fields (name, custom field names, forward URL) changed, or it is new."""
        self.changes.put("list", contact_list.id, (account.id, contact_list))

    def touch_contact(self, contact_list: ContactList, contact: Contact) -> None:
        self.changes.put("contact", f"{contact_list.id}:{contact.msisdn}", contact)

    def forget_list(self, contact_list: ContactList) -> None:
        self.changes.drop("list", contact_list.id)
        self.changes.drop_under("contact", f"{contact_list.id}:")

    def touch_optout(self, account: Account, msisdn: str) -> None:
        self.changes.put("optout", f"{account.id}:{msisdn}", (account.id, msisdn, account.optouts[msisdn]))

    def touch_message(self, message: Message) -> None:
        """The message's own fields (not its recipients) changed."""
        self.changes.put("message", message.id, message)

    def touch_recipient(self, message: Message, recipient: Recipient) -> None:
        self.changes.put("recipient", recipient.row_id, (message.id, recipient))

    def add_message(self, message: Message) -> None:
        self.messages[message.id] = message
        self.touch_message(message)
        for recipient in message.recipients:
            self.touch_recipient(message, recipient)

    def add_response(self, response: Response) -> None:
        self.responses.append(response)
        self.changes.put("response", response.id, response)

    def counters(self) -> dict[str, int]:
        """The next id of each kind (saved with the state)."""
        return dict(self._ids)

    def next_id(self, kind: str) -> int:
        value = self._ids[kind]
        self._ids[kind] = value + 1
        return value

    def add_account(self, config: AccountConfig, now: float, *, parent_id: int | None = None) -> Account:
        account = Account(
            id=self.next_id("account"),
            api_key=config.api_key,
            api_secret=config.api_secret,
            name=config.name,
            email=config.email,
            msisdn=config.msisdn,
            created=now,
            balance=config.balance,
            currency=config.currency,
            timezone=config.timezone,
            reseller=config.reseller,
            parent_id=parent_id,
            dlr_callback=config.dlr_callback or "",
            reply_callback=config.reply_callback or "",
            link_hits_callback=config.link_hits_callback or "",
        )
        for number in config.numbers:
            account.numbers[number] = VirtualNumber(number, self.config.number_price, now)
        self.accounts[account.id] = account
        self.by_key[account.api_key] = account
        self.touch_account(account)
        return account

    def new_api_key(self) -> str:
        return secrets.token_hex(16)

    def available_numbers(self) -> Iterator[str]:
        """Numbers nobody leases yet: 614000000NN-style, deterministic."""
        leased = {n for a in self.accounts.values() for n in a.numbers}
        for index in range(1, 10_000):
            number = f"6148{index:07d}"
            if number not in leased:
                yield number

    def owner_of_number(self, number: str) -> Account | None:
        for account in self.accounts.values():
            vn = account.numbers.get(number)
            if vn is not None and vn.status == "active":
                return account
        return None

    def record_transaction(
        self,
        account: Account,
        now: float,
        amount: float,
        *,
        description: str,
        type_id: int,
        message_id: int = 0,
    ) -> None:
        account.balance = round(account.balance + amount, 6)
        self.touch_account(account)
        account.transactions.append(
            Transaction(
                id=self.next_id("transaction"),
                user_id=account.id,
                description=description,
                amount=round(amount, 3),
                balance_standing=round(account.balance, 3),
                created=now,
                type_id=type_id,
                type_description=description.split(" -", maxsplit=1)[0],
                message_id=message_id,
            )
        )
        self.changes.put("transaction", account.transactions[-1].id, (account.id, account.transactions[-1]))
