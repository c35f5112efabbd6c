"""Keeping the sandbox's state in a SQLite file between runs (``--db PATH``), as versioned JSON.

The file holds one JSON document: accounts and everything they own, messages, responses, the id
counters, and the callback queue (receipts not yet due, deliveries waiting for a retry, bulk imports
not yet run), so a restart loses nothing that was acknowledged. It is written after every change, in
one SQLite transaction, before the answer leaves. Loading only decodes JSON and checks every field's
type: a crafted file cannot run code, and a file that is not a sandbox state (another database, a
text file, an older pickled state) is refused with one line naming the problem.

Each save writes the whole document, so its cost still grows with the state: fine for development
volumes, not for a sandbox holding hundreds of thousands of messages.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar, Union

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

__all__ = ["SavedSandbox", "StateFileError", "StateStore"]

FORMAT = "smsapi_async.sandbox"
VERSION = 1
T = TypeVar("T")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sandbox_document"
    " (id INTEGER PRIMARY KEY CHECK (id = 1), format TEXT NOT NULL, version INTEGER NOT NULL,"
    " saved_at REAL NOT NULL, data TEXT NOT NULL)"
)
_JOBS: dict[str, type[Any]] = {"dlr": DlrDue, "delivery": CallbackDelivery, "bulk-import": BulkImportJob}
_CLASSES = (Account, BulkImport, Contact, ContactList, Keyword, Message, Recipient, Response, Transaction,
            VirtualNumber, DlrDue, CallbackDelivery, BulkImportJob)  # fmt: skip


class StateFileError(Exception):
    """The ``--db`` file cannot be used; the message is one line saying why."""


@attrs.define
class SavedSandbox:
    """What a state file holds: the state, the queued jobs ``(due, job)`` and the delivery log."""

    state: State
    queue: list[tuple[float, Job]]
    deliveries: list[CallbackDelivery]  # the newest ``DELIVERY_LOG_SIZE`` at most


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


def _unstructure(obj: Any) -> Any:
    # tuples and int keys become JSON lists and strings; caches (non-init fields) are not saved
    return attrs.asdict(obj, filter=lambda field, _: field.init)


class StateStore:
    """One SQLite file holding the sandbox's state as a versioned JSON document."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise StateFileError(
                f"cannot keep the state in {self.path}: folder {self.path.parent} does not exist"
            )
        self._lock = threading.Lock()  # uvicorn may call from its thread, tests from theirs
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables - {"sandbox_document"}:
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
        except sqlite3.DatabaseError as exc:
            raise StateFileError(f"{self.path} is not a sandbox state file ({exc})") from None

    config: SandboxConfig = SandboxConfig()  # set by the Sandbox that loads the file

    def load(self) -> SavedSandbox | None:
        """The saved sandbox, or ``None`` when the file holds none yet."""
        for cls in _CLASSES:
            attrs.resolve_types(cls)
        with self._lock:
            row = self._db.execute(
                "SELECT format, version, data FROM sandbox_document WHERE id = 1"
            ).fetchone()
        if row is None:
            return None
        fmt, version, data = row
        if fmt != FORMAT or version != VERSION:
            raise StateFileError(
                f"{self.path} holds format {fmt!r} version {version!r}, not {FORMAT} {VERSION}"
            )
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):
            raise StateFileError(f"malformed state file: {self.path} does not hold JSON") from None
        _check(isinstance(doc, dict), "the document", "an object")
        return self._decode(doc)

    def _decode(self, doc: dict[str, Any]) -> SavedSandbox:
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
        """Replace the saved document (one transaction)."""
        entries: list[dict[str, Any]] = []
        logged = {id(d) for d in deliveries}
        for due, job in queue:
            if isinstance(job, CallbackDelivery) and id(job) in logged:
                entries.append({"due": due, "type": "delivery", "id": job.id})
            elif isinstance(job, CallbackDelivery):  # dropped from the log, still to be retried
                entries.append({"due": due, "type": "delivery", "job": _unstructure(job)})
            else:
                kind = "dlr" if isinstance(job, DlrDue) else "bulk-import"
                entries.append({"due": due, "type": kind, "job": _unstructure(job)})
        doc = {
            "ids": state.counters(),
            "accounts": [_unstructure(a) for a in state.accounts.values()],
            "messages": [_unstructure(m) for m in state.messages.values()],
            "responses": [_unstructure(r) for r in state.responses],
            "deliveries": [_unstructure(d) for d in deliveries],
            "queue": entries,
        }
        data = json.dumps(doc, separators=(",", ":"), allow_nan=False)
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO sandbox_document (id, format, version, saved_at, data)"
                " VALUES (1, ?, ?, ?, ?)",
                (FORMAT, VERSION, time.time(), data),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"StateStore({str(self.path)!r})"
