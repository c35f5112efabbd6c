"""Derive ``transmit-sms-v1.json``, the compact contract of the V1 API, from a call-by-call reference.

Usage::

    python tests/client/contract_derive.py reference.md > smsapi_async/sandbox/transmit-sms-v1.json

The file is shipped with the sandbox, which checks every call's parameters against it; the client's
contract tests (``test_published_contract.py``) read the same file.

The reference is a Markdown file with one ``#### call-name — summary`` section per call, each giving
its parameters as a table (``| param | Req | type | notes |``) or as a ``Params:`` sentence with
``(Y)`` after required names. It was compiled from the provider's public documentation for the V1
API (the Postman collection behind developer.transmitsms.com, and the OpenAPI document Kudosity
publishes for it) and from recorded traffic (``tests/fixtures/examples/SOURCES.md``); it is not kept
in this repository. Only facts are kept: call names, parameter names, types, whether required,
enumerations, and whether the current published specification still lists the call. No prose.

A few facts are not in tables and are written below, each with its evidence (``OVERRIDES``,
``NOT_IN_CURRENT_SPEC``, ``UNDOCUMENTED``).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

TYPES = {
    "int": "integer",
    "int/string": "integer",  # numbers: the published contract types them as integers
    "int (minutes)": "integer",
    "string": "string",
    "datetime": "datetime",
    "date": "date",
    "bool": "boolean",
    "url": "url",
    "email": "email",
    "decimal": "number",
    "number": "number",
    "float": "number",
}

NAME_TYPES = {  # for parameters given in a sentence rather than a table
    "list_id": "integer",
    "client_id": "integer",
    "id": "integer",
    "message_id": "integer",
    "page": "integer",
    "max": "integer",
    "msisdn": "integer",
    "mobile": "integer",
    "number": "integer",
    "client_pays": "boolean",
    "sms_margin": "number",
    "fixed_top_up_amount": "number",
}

OVERRIDES: dict[tuple[str, str], dict[str, Any]] = {
    # edit-keyword's status: the published enumeration is capitalised (the Postman examples sent
    # "active", which the documentation does not list)
    ("edit-keyword", "status"): {"type": "string", "required": False, "enum": ["Open", "Closed"]},
    # documented for add-keyword, and edit-keyword takes add-keyword's parameters
    ("edit-keyword", "activate"): {"type": "boolean", "required": False},
    # documented by the published specification for the activity report
    ("get-user-sms-sent", "response_style"): {"type": "string", "required": False, "enum": ["array"]},
}

NOT_IN_CURRENT_SPEC = {
    # calls the current published specification no longer lists (reseller accounts, link hits,
    # sender ids) or never did (found only in old clients and captures)
    "get-client",
    "get-clients",
    "add-client",
    "edit-client",
    "get-transactions",
    "get-transaction",
    "get-link-hits",
    "get-sender-ids",
    "message-reply",
    "get-message-log",
    "add-credit",
    "add-card",
}

UNDOCUMENTED: dict[tuple[str, str], str] = {
    # parameters (or values) found in official clients or old articles, not in the published spec
    ("send-sms", "from_shared"): "official C# and Go clients (2020); not in the current documentation",
    (
        "get-sms-sent-count",
        "client_id",
    ): "an older help article for resellers; not in the current documentation",
    (
        "get-list",
        "members=all",
    ): "the Postman collection's text; the specification lists active, inactive, none",
}

_TABLE_HEAD = re.compile(r"\|\s*param\s*\|", re.I)
_TICKED = re.compile(r"`([^`]+)`")
_RANGE = re.compile(r"(\w+?)_(\d+)\s*(?:…|\.\.\.)\s*\w+?_(\d+)")


def _names(cell: str) -> list[str]:
    cell = cell.replace("`", "").strip()
    found = _RANGE.search(cell)
    if found:
        stem, first, last = found.group(1), int(found.group(2)), int(found.group(3))
        return [f"{stem}_{n}" for n in range(first, last + 1)]
    return [name.strip() for name in cell.split(",") if name.strip()]


def _enum(kind: str, notes: str) -> list[str] | None:
    """The values of a text parameter whose notes open by listing them (`` `a` / `b` ``)."""
    if kind != "string" or not notes.startswith("`"):
        return None
    values = [value for value in _TICKED.findall(notes) if re.fullmatch(r"[A-Za-z_][A-Za-z_ ]*", value)]
    return list(dict.fromkeys(values)) or None


def _table(lines: list[str]) -> dict[str, dict[str, Any]]:
    params: dict[str, dict[str, Any]] = {}
    for line in lines:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or set(cells[0]) <= {"-", " "}:
            continue
        kind = TYPES.get(cells[2].split(" ")[0] if cells[2] not in TYPES else cells[2], "string")
        notes = cells[3] if len(cells) > 3 else ""
        for name in _names(cells[0]):
            entry: dict[str, Any] = {"type": kind, "required": cells[1].startswith("Y")}
            enum = _enum(kind, notes)
            if enum:
                entry["enum"] = enum
            params[name] = entry
    return params


def _sentence(text: str) -> dict[str, dict[str, Any]]:
    params: dict[str, dict[str, Any]] = {}
    for match in re.finditer(r"`([^`]+)`(\s*\(Y\))?", text):
        for name in _names(match.group(1)):
            if re.fullmatch(r"[a-z_0-9]+", name):
                params[name] = {"type": NAME_TYPES.get(name, "string"), "required": bool(match.group(2))}
    return params


def derive(reference: str) -> dict[str, Any]:
    calls: dict[str, Any] = {}
    sections = re.split(r"^#### ", reference, flags=re.M)[1:]
    for section in sections:
        heading, _, body = section.partition("\n")
        names = [name.strip() for name in heading.split(" — ")[0].split(",")]
        body = body.split("\n### ")[0]
        lines = body.splitlines()
        params: dict[str, dict[str, Any]] = {}
        table_at = next((i for i, line in enumerate(lines) if _TABLE_HEAD.match(line)), None)
        if table_at is not None:
            rows = []
            for line in lines[table_at + 1 :]:
                if not line.startswith("|"):
                    break
                rows.append(line)
            params = _table(rows)
        else:
            sentence = re.search(r"(?:Params?:?|No params)(.*?)(?:Response|$)", body, flags=re.S)
            if sentence and sentence.group(0).startswith("Params: as "):
                parent = sentence.group(1).split("`")[0].replace("as", "").strip().split(" ")[0]
                params = {k: dict(v) for k, v in calls.get(parent, {}).get("params", {}).items()}
                added = _TICKED.search(sentence.group(1).split("plus", 1)[-1])  # "plus `status` ..."
                params.update(_sentence(f"`{added.group(1)}`" if added else ""))
            elif sentence and not sentence.group(0).startswith("No params"):
                params = _sentence(sentence.group(1))
        for name in names:
            if not re.fullmatch(r"[a-z-]+", name):
                continue
            call: dict[str, Any] = {
                "params": {k: dict(v) for k, v in params.items()},
                "in_current_spec": name not in NOT_IN_CURRENT_SPEC,
            }
            for (owner, param), value in OVERRIDES.items():
                if owner == name:
                    call["params"][param] = value
            undocumented = {key: why for (owner, key), why in UNDOCUMENTED.items() if owner == name}
            if undocumented:
                call["undocumented"] = undocumented
            calls[name] = call
    return {
        "source": (
            "The provider's public documentation for the V1 API (the Transmit SMS Postman collection and "
            "Kudosity's OpenAPI document for it) and recorded traffic; derived by "
            "tests/client/contract_derive.py"
        ),
        "calls": dict(sorted(calls.items())),
    }


if __name__ == "__main__":
    text = Path(sys.argv[1]).read_text(encoding="utf-8")
    json.dump(derive(text), sys.stdout, indent=1, sort_keys=False, ensure_ascii=False)
    sys.stdout.write("\n")
