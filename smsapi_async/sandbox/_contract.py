"""Parameters checked as the published contract types them, before a call's handler runs.

``transmit-sms-v1.json`` (beside this file) holds the contract's facts: each call's parameters, their
types and, where the specification enumerates them, their values. The live API refuses a value of the
wrong type with ``FIELD_INVALID`` ("Field \\"keyword_id\\" has wrong type, expected type - numeric"), so
the sandbox does too, rather than reading a formatted number (``+61 400 000 000``) into an integer
field and answering 200 where the API would not:

* an **integer** is digits, optionally signed, optionally surrounded by blanks (a recorded call
  passed ``number=+61422222222`` to ``get-number`` and was served);
* a **number** is a decimal number (``1.5``, ``-2``, ``.5``, ``1e3``);
* an **enumerated** value is one of the listed values, exactly (``edit-keyword``'s ``status`` is
  ``Open`` or ``Closed``; ``open`` or ``active`` are refused);
* a parameter the contract lists for **other calls but not this one** is refused: a client sending
  ``mobile`` to ``get-user-sms-responses`` expects a filter that does not exist there, and would get
  every reply. Names the contract does not know at all are ignored, as the API ignores them.

An empty value is left to the handler (some calls treat it as absent, others answer ``FIELD_EMPTY``).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from ._params import ApiFailure, Params, field_invalid

__all__ = ["CONTRACT_FILE", "check_params", "contract"]

CONTRACT_FILE = Path(__file__).with_name("transmit-sms-v1.json")
_BLANKS = " \t\n\r\v\f"
_INTEGER = re.compile(rf"[{_BLANKS}]*[+-]?[0-9]+[{_BLANKS}]*\Z")
_NUMBER = re.compile(rf"[{_BLANKS}]*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?[{_BLANKS}]*\Z")

ALSO_ACCEPTED: dict[str, frozenset[str]] = {
    # parameters beyond the contract that official clients or the provider's own articles send
    "get-sms-sent-count": frozenset({"client_id"}),  # an older help article for resellers
}


@cache
def contract() -> dict[str, Any]:
    """The contract's calls: ``{call: {"params": {name: {"type", "required", "enum"?}}, ...}}``."""
    calls: dict[str, Any] = json.loads(CONTRACT_FILE.read_text("utf-8"))["calls"]
    return calls


@cache
def _known_names() -> frozenset[str]:
    return frozenset(name for call in contract().values() for name in call["params"])


def _wrong_type(name: str) -> ApiFailure:
    return field_invalid(f'Field "{name}" has wrong type, expected type - numeric')


def check_params(call: str, params: Params) -> None:
    """Refuse ``params`` where the contract says ``call`` cannot take them (``FIELD_INVALID``)."""
    spec = contract().get(call)
    if spec is None or not spec["params"]:  # a call the contract does not describe
        return
    declared: dict[str, Any] = spec["params"]
    extra = ALSO_ACCEPTED.get(call, frozenset())
    for name, value in params.raw().items():
        rule = declared.get(name)
        if rule is None:
            if name in _known_names() and name not in extra:
                raise field_invalid(f"Field '{name[:64]}' is not a parameter of {call}")
            continue
        if not value.strip():
            continue
        pattern = {"integer": _INTEGER, "number": _NUMBER}.get(rule["type"])
        if pattern is not None and not pattern.match(value):
            raise _wrong_type(name)
        choices = rule.get("enum")
        if choices and value not in choices:
            raise field_invalid(f"Field '{name}' must be one of: {', '.join(choices)}")
