"""Keeping the sandbox's state in a SQLite file between runs (``--db PATH``), as versioned JSON records.

The file holds one table of records, ``(kind, key) -> JSON``: a schema record (format and version),
the id counters, and one record per account (without its lists, transactions and opt-outs), list
(without its members), contact, opt-out, transaction, message (without its recipients), recipient,
response, logged callback delivery and queued job (receipts not yet due, deliveries waiting for a
retry, bulk imports not yet run). So a restart loses nothing that was acknowledged.

Each save writes only the records changed since the last one (see ``Changes`` in ``_state.py``), in
one SQLite transaction, before the answer leaves: a call's cost follows what it changed, not how much
the sandbox holds. A fresh or reset state is written whole.

Loading only decodes JSON and checks every field's type and every record's owner: a crafted file
cannot run code, and a file that is not a sandbox state (another database, a text file, an older
pickled state, a newer schema) is refused with one line naming the problem. A file written by the
sandbox before records (schema version 1, one JSON document) is converted on open.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import types
import typing
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, Union

import attrs

from ._callbacks import BulkImportJob, CallbackDelivery, DlrDue, Job
from ._config import SandboxConfig
from ._state import (
    Account,
    BulkImport,
    Contact,
    ContactList,
    Keyword,
    Message,
    Recipient,
    Response,
    State,
    Transaction,
    VirtualNumber,
)

if TYPE_CHECKING:
    from ._callbacks import CallbackQueue

__all__ = ["SavedSandbox", "StateFileError", "StateSaveError", "StateStore"]

FORMAT = "smsapi_async.sandbox"
VERSION = 2
DOCUMENT_VERSION = 1  # one JSON document, rewritten whole on every save; converted on open
T = TypeVar("T")

_TABLE = "sandbox_records"
_DOCUMENT_TABLE = "sandbox_document"
_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {_TABLE}"
    " (kind TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (kind, key))"
)
# an update keeps the row (and its rowid, which orders contacts and opt-outs as they were added)
_UPSERT = (
    f"INSERT INTO {_TABLE} (kind, key, data) VALUES (?, ?, ?)"
    " ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data"
)
KINDS = ("schema", "ids", "account", "list", "contact", "optout", "transaction", "message", "recipient",
         "response", "delivery", "job")  # fmt: skip
_JOBS: dict[str, type[Any]] = {"dlr": DlrDue, "delivery": CallbackDelivery, "bulk-import": BulkImportJob}
_CLASSES = (Account, BulkImport, Contact, ContactList, Keyword, Message, Recipient, Response, Transaction,
            VirtualNumber, DlrDue, CallbackDelivery, BulkImportJob)  # fmt: skip


class StateFileError(Exception):
    """The ``--db`` file cannot be used; the message is one line saying why."""


class StateSaveError(Exception):
    """A save failed (disk full, I/O error, a file made read-only): nothing of it was written. The
    next save writes everything again."""


@attrs.define
class SavedSandbox:
    """What a state file holds: the state, the queued jobs ``(due, job)`` and the delivery log."""

    state: State
    queue: list[tuple[float, Job]]
    deliveries: list[CallbackDelivery]  # the newest ``DELIVERY_LOG_SIZE`` at most
    sequence: list[int] | None = None  # the queued jobs' keys in the file


def _check(ok: bool, where: str, expected: str) -> None:
    if not ok:
        raise StateFileError(f"malformed state file: {where} is not {expected}")


def _structure(tp: Any, value: Any, where: str) -> Any:
    """``value`` (decoded JSON) as type ``tp``, checking every field; raises :class:`StateFileError`."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        inner = [o for o in options if o is not type(None)]
        return _structure(inner[0], value, where)
    if tp is bool:
        _check(isinstance(value, bool), where, "true/false")
        return value
    if tp is int:
        _check(isinstance(value, int) and not isinstance(value, bool), where, "an integer")
        return value
    if tp is float:
        _check(isinstance(value, (int, float)) and not isinstance(value, bool), where, "a number")
        return float(value)
    if tp is str:
        _check(isinstance(value, str), where, "text")
        return value
    if origin is list:
        _check(isinstance(value, list), where, "a list")
        (item,) = typing.get_args(tp)
        return [_structure(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        args = typing.get_args(tp)
        _check(isinstance(value, list) and len(value) == len(args), where, "a pair")
        return tuple(
            _structure(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True))
        )
    if origin is dict:
        _check(isinstance(value, dict), where, "an object")
        key_type, value_type = typing.get_args(tp)
        out = {}
        for k, v in value.items():
            if key_type is int:
                _check(isinstance(k, str) and k.lstrip("-").isdigit(), f"{where} key {k!r}", "an integer")
                key: Any = int(k)
            else:
                key = k
            out[key] = _structure(value_type, v, f"{where}.{k}")
        return out
    if isinstance(tp, type) and attrs.has(tp):
        _check(isinstance(value, dict), where, f"a {tp.__name__}")
        fields = {f.name: f for f in attrs.fields(tp) if f.init}
        unknown = set(value) - set(fields)
        _check(not unknown, f"{where} field {sorted(unknown)[:1]}", "known")
        kwargs = {}
        for name, field in fields.items():
            if name in value:
                kwargs[name] = _structure(field.type, value[name], f"{where}.{name}")
            else:
                _check(field.default is not attrs.NOTHING, f"{where}.{name}", "present")
        return tp(**kwargs)
    raise StateFileError(f"malformed state file: {where} has an unsupported type")


def _unstructure(obj: Any, *, leave_out: tuple[str, ...] = ()) -> Any:
    # tuples and int keys become JSON lists and strings; caches (non-init fields) are not saved,
    # nor the named fields of ``obj`` itself (they are records of their own)
    skip = {getattr(attrs.fields(type(obj)), name) for name in leave_out}
    return attrs.asdict(obj, filter=lambda field, _: field.init and field not in skip)


_OWN_RECORDS = {  # fields held in records of their own, never inside their owner's record
    Account: ("lists", "transactions", "optouts"),
    ContactList: ("members",),
    Message: ("recipients",),
}


def _job_type(job: Job) -> str:
    if isinstance(job, CallbackDelivery):
        return "delivery"
    return "dlr" if isinstance(job, DlrDue) else "bulk-import"


def _encode(kind: str, value: Any) -> Any:
    """The JSON of one record, from the live object(s) :class:`Changes` holds for it."""
    if kind in ("account", "message"):
        return _unstructure(value, leave_out=_OWN_RECORDS[type(value)])
    if kind == "list":
        account_id, contact_list = value
        return {"account_id": account_id, "list": _unstructure(contact_list, leave_out=("members",))}
    if kind == "transaction":
        return {"account_id": value[0], "transaction": _unstructure(value[1])}
    if kind == "recipient":
        return {"message_id": value[0], "recipient": _unstructure(value[1])}
    if kind == "optout":
        return {"account_id": value[0], "msisdn": value[1], "at": value[2]}
    if kind == "job":
        due, job = value
        return {"due": due, "type": _job_type(job), "job": _unstructure(job)}
    return _unstructure(value)  # contact, response, delivery


def _records(
    state: State, entries: Iterable[tuple[float, int, Job]], deliveries: Iterable[CallbackDelivery]
) -> Iterator[tuple[str, str, Any]]:
    """Every record of a full rewrite, ``(kind, key, JSON value)``, contacts and opt-outs in order."""
    yield "schema", "", {"format": FORMAT, "version": VERSION}
    yield "ids", "", state.counters()
    for account in state.accounts.values():
        yield "account", str(account.id), _encode("account", account)
        for msisdn, at in account.optouts.items():
            yield "optout", f"{account.id}:{msisdn}", _encode("optout", (account.id, msisdn, at))
        for t in account.transactions:
            yield "transaction", str(t.id), _encode("transaction", (account.id, t))
        for contact_list in account.lists.values():
            yield "list", str(contact_list.id), _encode("list", (account.id, contact_list))
            for contact in contact_list.members.values():
                yield "contact", f"{contact_list.id}:{contact.msisdn}", _encode("contact", contact)
    for message in state.messages.values():
        yield "message", str(message.id), _encode("message", message)
        for r in message.recipients:
            yield "recipient", str(r.row_id), _encode("recipient", (message.id, r))
    for response in state.responses:
        yield "response", str(response.id), _encode("response", response)
    for delivery in deliveries:
        yield "delivery", str(delivery.id), _encode("delivery", delivery)
    for due, seq, job in entries:
        yield "job", str(seq), _encode("job", (due, job))


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _int_key(text: str, where: str) -> int:
    _check(text.lstrip("-").isdigit() and len(text) < 20, where, "keyed by an integer")
    return int(text)


def _record(cls: type[T], data: Any, where: str) -> T:
    """One entity; the fields that are records of their own must not be inside it."""
    own = set(_OWN_RECORDS.get(cls, ()))
    expected = f"{cls.__name__} fields" + (f" only (not {', '.join(sorted(own))})" if own else "")
    _check(isinstance(data, dict) and not set(data) & own, where, expected)
    return typing.cast(T, _structure(cls, data, where))


def _owned(data: Any, where: str, owner: str, name: str, cls: type[T]) -> tuple[int, T]:
    """``{owner: id, name: entity}``: an entity and the id of the record that owns it."""
    value = _structure(dict[str, Any], data, where)
    owner_id = _structure(int, value.get(owner), f"{where}.{owner}")
    return owner_id, _record(cls, value.get(name), f"{where}.{name}")


class _Loader:
    """Rebuilds a :class:`SavedSandbox` from the records, checking each one and its owner."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.ids: dict[str, int] | None = None
        self.accounts: dict[int, Account] = {}
        self.lists: dict[int, tuple[int, ContactList]] = {}
        self.contacts: list[tuple[int, Contact]] = []
        self.optouts: list[tuple[int, str, float]] = []
        self.transactions: list[tuple[int, Transaction]] = []
        self.messages: dict[int, Message] = {}
        self.recipients: list[tuple[int, Recipient]] = []
        self.responses: list[Response] = []
        self.deliveries: list[CallbackDelivery] = []
        self.jobs: list[tuple[float, int, Job]] = []

    def add(self, kind: str, key: str, data: Any) -> None:
        where = f"record {kind} {key[:40]!r}"
        if kind == "ids":
            self.ids = _structure(dict[str, int], data, where)
        elif kind == "account":
            account = _record(Account, data, where)
            _check(key == str(account.id), where, "keyed by its id")
            self.accounts[account.id] = account
        elif kind == "message":
            message = _record(Message, data, where)
            _check(key == str(message.id), where, "keyed by its id")
            self.messages[message.id] = message
        elif kind == "list":
            owner, contact_list = _owned(data, where, "account_id", "list", ContactList)
            _check(key == str(contact_list.id), where, "keyed by its id")
            self.lists[contact_list.id] = (owner, contact_list)
        elif kind == "contact":
            list_id, _, msisdn = key.partition(":")
            contact = _structure(Contact, data, where)
            _check(msisdn == contact.msisdn, where, "keyed by its list and number")
            self.contacts.append((_int_key(list_id, where), contact))
        elif kind == "optout":
            value = _structure(dict[str, Any], data, where)
            owner = _structure(int, value.get("account_id"), f"{where}.account_id")
            msisdn = _structure(str, value.get("msisdn"), f"{where}.msisdn")
            _check(key == f"{owner}:{msisdn}", where, "keyed by its account and number")
            self.optouts.append((owner, msisdn, _structure(float, value.get("at"), f"{where}.at")))
        elif kind == "transaction":
            owner, t = _owned(data, where, "account_id", "transaction", Transaction)
            _check(key == str(t.id), where, "keyed by its id")
            self.transactions.append((owner, t))
        elif kind == "recipient":
            owner, r = _owned(data, where, "message_id", "recipient", Recipient)
            _check(key == str(r.row_id), where, "keyed by its row id")
            self.recipients.append((owner, r))
        elif kind == "response":
            response = _structure(Response, data, where)
            _check(key == str(response.id), where, "keyed by its id")
            self.responses.append(response)
        elif kind == "delivery":
            delivery = _structure(CallbackDelivery, data, where)
            _check(key == str(delivery.id), where, "keyed by its id")
            self.deliveries.append(delivery)
        else:  # job
            value = _structure(dict[str, Any], data, where)
            due = _structure(float, value.get("due"), f"{where}.due")
            job_type = value.get("type")
            _check(job_type in _JOBS, f"{where}.type", "a known job")
            job = _structure(_JOBS[job_type], value.get("job"), f"{where}.job")
            self.jobs.append((due, _int_key(key, where), job))

    def owner(self, table: dict[int, T], owner_id: int, what: str) -> T:
        _check(owner_id in table, what, "owned by a saved record")
        return table[owner_id]

    def saved(self) -> SavedSandbox:
        _check(self.ids is not None, "record ids", "present")
        assert self.ids is not None
        accounts = dict(sorted(self.accounts.items()))
        for list_id, (owner, contact_list) in sorted(self.lists.items()):
            self.owner(accounts, owner, f"list {list_id}").lists[list_id] = contact_list
        for list_id, contact in self.contacts:  # in the order they were added
            self.owner(self.lists, list_id, f"contact {contact.msisdn}")[1].members[contact.msisdn] = contact
        for owner, msisdn, at in self.optouts:
            self.owner(accounts, owner, f"opt-out {msisdn}").optouts[msisdn] = at
        for owner, t in sorted(self.transactions, key=lambda e: e[1].id):
            self.owner(accounts, owner, f"transaction {t.id}").transactions.append(t)
        messages = dict(sorted(self.messages.items()))
        for owner, r in sorted(self.recipients, key=lambda e: e[1].row_id):
            self.owner(messages, owner, f"recipient {r.row_id}").recipients.append(r)
        self.responses.sort(key=lambda r: r.id)
        deliveries = sorted(self.deliveries, key=lambda d: d.id)
        logged = {d.id: d for d in deliveries}
        queue: list[tuple[float, Job]] = []
        sequence: list[int] = []
        for due, seq, job in sorted(self.jobs, key=lambda e: (e[0], e[1])):
            # a delivery also in the log is the log's object: the one that changes
            queue.append((due, logged.get(job.id, job) if isinstance(job, CallbackDelivery) else job))
            sequence.append(seq)
        state = State.restored(
            self.config, list(accounts.values()), list(messages.values()), self.responses, self.ids
        )
        return SavedSandbox(state, queue, deliveries, sequence)


class StateStore:
    """One SQLite file holding the sandbox's state as versioned JSON records.

    ``written`` counts the records written or deleted and the bytes of JSON written so far, and
    ``last_write`` those of the last save (what the cost test and the benchmark read).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise StateFileError(
                f"cannot keep the state in {self.path}: folder {self.path.parent} does not exist"
            )
        self._lock = threading.Lock()  # uvicorn may call from its thread, tests from theirs
        self.written = self.last_write = (0, 0)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables - {_TABLE, _DOCUMENT_TABLE}:
                self._db.close()
                older = "sandbox_state" in tables
                why = (
                    "it was saved by an older sandbox as a pickle, which is unsafe to load: delete it"
                    if older
                    else "it holds other tables: use a new path"
                )
                raise StateFileError(f"{self.path} is not a sandbox state file ({why})")
            with self._db:
                self._db.execute(_SCHEMA)
            # a commit reaches the operating system before the answer leaves, so a killed process
            # loses nothing it acknowledged; without a sync per commit, which costs milliseconds
            # (a power cut may lose the last commits)
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._check_writable()
        except sqlite3.OperationalError as exc:
            raise StateFileError(f"cannot keep the state in {self.path}: {self._why(exc)}") from None
        except sqlite3.DatabaseError as exc:
            raise StateFileError(f"{self.path} is not a sandbox state file ({exc})") from None

    def _why(self, exc: sqlite3.Error) -> str:
        """What a failed write means, in the words of whoever has to fix it."""
        text = str(exc)
        unwritable = not os.access(self.path.parent, os.W_OK) or (
            self.path.exists() and not os.access(self.path, os.W_OK)
        )
        if "readonly" in text or unwritable:
            return f"the file cannot be written ({text}: a read-only filesystem, or an immutable file?)"
        if "full" in text:
            return f"the disk is full ({text})"
        return text

    def _check_writable(self) -> None:
        """Write (and take back) a record now: a file that can be read but not written (a
        read-only filesystem, an immutable file) is refused at start, with the reason, rather than
        failing every state-changing call later."""
        with self._db:
            self._db.execute(_UPSERT, ("probe", "", "{}"))
            self._db.execute(f"DELETE FROM {_TABLE} WHERE kind = 'probe'")

    config: SandboxConfig = SandboxConfig()  # set by the Sandbox that loads the file

    def load(self) -> SavedSandbox | None:
        """The saved sandbox, or ``None`` when the file holds none yet. A file of schema version 1
        (one JSON document) is converted to records first."""
        for cls in _CLASSES:
            attrs.resolve_types(cls)
        try:
            with self._lock:
                rows = self._db.execute(f"SELECT kind, key, data FROM {_TABLE} ORDER BY rowid").fetchall()
        except sqlite3.DatabaseError as exc:
            raise StateFileError(f"{self.path} is not a sandbox state file ({exc})") from None
        if not rows:
            return self._convert_document()
        loader = _Loader(self.config)
        schema = [data for kind, _, data in rows if kind == "schema"]
        _check(len(schema) == 1, "the schema record", "present")
        info = self._json("schema", "", schema[0])
        fmt = info.get("format") if isinstance(info, dict) else None
        version = info.get("version") if isinstance(info, dict) else None
        if fmt != FORMAT:
            raise StateFileError(f"{self.path} is not a sandbox state file (format {fmt!r})")
        if version != VERSION:
            newer = isinstance(version, int) and version > VERSION
            raise StateFileError(
                f"{self.path} holds schema version {version!r}"
                + (", written by a newer sandbox" if newer else "")
                + f"; this sandbox reads version {VERSION}"
            )
        for kind, key, data in rows:
            _check(isinstance(kind, str) and kind in KINDS, f"record kind {str(kind)[:40]!r}", "known")
            if kind != "schema":
                _check(isinstance(key, str) and isinstance(data, str), f"record {kind}", "text")
                loader.add(kind, key, self._json(kind, key, data))
        return loader.saved()

    def _json(self, kind: str, key: str, data: Any) -> Any:
        try:
            return json.loads(data)
        except (TypeError, ValueError, RecursionError):
            raise StateFileError(
                f"malformed state file: record {kind} {str(key)[:40]!r} does not hold JSON"
            ) from None

    def _convert_document(self) -> SavedSandbox | None:
        """Read a schema version 1 file (one JSON document) and rewrite it as records."""
        with self._lock:
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if _DOCUMENT_TABLE not in tables:
                return None
            row = self._db.execute(
                f"SELECT format, version, data FROM {_DOCUMENT_TABLE} WHERE id = 1"
            ).fetchone()
        if row is None:
            return None
        fmt, version, data = row
        if fmt != FORMAT or version != DOCUMENT_VERSION:
            raise StateFileError(
                f"{self.path} holds format {fmt!r} version {version!r}, not {FORMAT} {DOCUMENT_VERSION}"
            )
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):
            raise StateFileError(f"malformed state file: {self.path} does not hold JSON") from None
        _check(isinstance(doc, dict), "the document", "an object")
        saved = self._decode_document(doc)
        saved.sequence = list(range(len(saved.queue)))
        entries = [(due, seq, job) for (due, job), seq in zip(saved.queue, saved.sequence, strict=True)]
        self._rewrite(saved.state, entries, saved.deliveries, drop_document=True)
        return saved

    def _decode_document(self, doc: dict[str, Any]) -> SavedSandbox:
        ids = _structure(dict[str, int], doc.get("ids"), "ids")
        accounts = _structure(list[Account], doc.get("accounts"), "accounts")
        messages = _structure(list[Message], doc.get("messages"), "messages")
        responses = _structure(list[Response], doc.get("responses"), "responses")
        deliveries = _structure(list[CallbackDelivery], doc.get("deliveries"), "deliveries")
        by_id = {d.id: d for d in deliveries}
        queue: list[tuple[float, Job]] = []
        for i, entry in enumerate(_structure(list[dict[str, Any]], doc.get("queue"), "queue")):
            due = _structure(float, entry.get("due"), f"queue[{i}].due")
            kind = entry.get("type")
            _check(kind in _JOBS, f"queue[{i}].type", "a known job")
            if kind == "delivery" and "job" not in entry:  # one that is also in the log
                delivery_id = _structure(int, entry.get("id"), f"queue[{i}].id")
                _check(delivery_id in by_id, f"queue[{i}].id", "a saved delivery")
                queue.append((due, by_id[delivery_id]))
            else:
                queue.append((due, _structure(_JOBS[kind], entry.get("job"), f"queue[{i}].job")))
        state = State.restored(self.config, accounts, messages, responses, ids)
        return SavedSandbox(state, queue, deliveries)

    def save(
        self, state: State, queue: list[tuple[float, Job]], deliveries: Iterable[CallbackDelivery]
    ) -> None:
        """Replace everything saved with this state, queue and delivery log (one transaction)."""
        entries = [(due, seq, job) for seq, (due, job) in enumerate(queue)]
        self._rewrite(state, entries, deliveries)

    def save_changes(self, state: State, callbacks: CallbackQueue) -> None:
        """Write what changed since the last save (one transaction): the records marked in
        ``state.changes`` and ``callbacks.changes``, and the id counters. A fresh or reset state
        is written whole."""
        changes, queue_changes = state.changes.take(), callbacks.changes.take()
        if not changes and not queue_changes:
            return  # nothing changed (and so neither did the id counters)
        try:
            self._save(state, callbacks, changes, queue_changes)
        except sqlite3.Error as exc:
            # nothing was written (one transaction): the next save writes it again
            state.changes.give_back(changes)
            callbacks.changes.give_back(queue_changes)
            raise StateSaveError(f"could not save the state to {self.path}: {self._why(exc)}") from None

    def _save(self, state: State, callbacks: CallbackQueue, changes: Any, queue_changes: Any) -> None:
        if changes.everything or queue_changes.everything:
            self._rewrite(state, callbacks.entries(), callbacks.deliveries)
            return
        logged: set[int] | None = None
        rows = bytes_ = 0
        with self._lock, self._db:
            for part in (changes, queue_changes):
                for kind, prefix in part.dropped:
                    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
                    self._db.execute(
                        f"DELETE FROM {_TABLE} WHERE kind = ? AND key >= ? AND key < ?", (kind, prefix, end)
                    )
                    rows += 1
                for (kind, key), value in part.rows.items():
                    if kind == "delivery" and value is not None and logged is None:
                        logged = {d.id for d in callbacks.deliveries}
                    rows += 1
                    # a delivery that dropped out of the log since is deleted
                    if value is None or (
                        kind == "delivery" and logged is not None and value.id not in logged
                    ):
                        self._db.execute(f"DELETE FROM {_TABLE} WHERE kind = ? AND key = ?", (kind, key))
                        continue
                    data = _dumps(_encode(kind, value))
                    bytes_ += len(data)
                    self._db.execute(_UPSERT, (kind, key, data))
            data = _dumps(state.counters())
            self._db.execute(_UPSERT, ("ids", "", data))
        self._count(rows + 1, bytes_ + len(data))

    def _rewrite(
        self,
        state: State,
        entries: Iterable[tuple[float, int, Job]],
        deliveries: Iterable[CallbackDelivery],
        *,
        drop_document: bool = False,
    ) -> None:
        records = [(kind, key, _dumps(value)) for kind, key, value in _records(state, entries, deliveries)]
        with self._lock, self._db:
            self._db.execute(f"DELETE FROM {_TABLE}")
            self._db.executemany(f"INSERT INTO {_TABLE} (kind, key, data) VALUES (?, ?, ?)", records)
            if drop_document:
                self._db.execute(f"DROP TABLE {_DOCUMENT_TABLE}")
        self._count(len(records), sum(len(data) for _, _, data in records))

    def _count(self, rows: int, bytes_: int) -> None:
        self.last_write = (rows, bytes_)
        self.written = (self.written[0] + rows, self.written[1] + bytes_)

    def records(self) -> list[tuple[str, str, str]]:
        """Every record in the file, ``(kind, key, JSON text)``, in the order they were added."""
        with self._lock:
            return self._db.execute(f"SELECT kind, key, data FROM {_TABLE} ORDER BY rowid").fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"StateStore({str(self.path)!r})"
