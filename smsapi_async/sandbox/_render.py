"""Rendering of answers as the API does: PHP-style JSON, or the XML the API answers with `.xml` calls."""

from __future__ import annotations

import json
import re
from typing import Any
from xml.sax.saxutils import escape

__all__ = ["error_payload", "render", "render_json", "render_xml", "success"]

JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"

_SUCCESS = {"code": "SUCCESS", "description": "OK"}
_XML_INVALID_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_NAME_INVALID_CHARS = re.compile(r"[^A-Za-z0-9_.\-]")


def success(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload followed by the ``error`` block, which the API always puts last."""
    return {**{k: v for k, v in payload.items() if k != "error"}, "error": dict(_SUCCESS)}


def error_payload(code: str, description: str) -> dict[str, Any]:
    return {"error": {"code": code, "description": description}}


def render_json(payload: dict[str, Any]) -> bytes:
    # PHP's json_encode escapes "/" and every non-ASCII character; "/" only occurs inside strings.
    text = json.dumps(payload, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("/", "\\/").encode("ascii")


def _element_name(key: str) -> str:
    name = _NAME_INVALID_CHARS.sub("_", key) or "_"
    if not (name[0].isalpha() or name[0] == "_") or name.lower().startswith("xml"):
        name = "_" + name
    return name


def _text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return escape(_XML_INVALID_CHARS.sub("", str(value)))


def _xml_value(name: str, value: Any, indent: str, out: list[str]) -> None:
    tag = _element_name(name)
    if value is None or (isinstance(value, (str, list, dict)) and not value):
        out.append(f"{indent}<{tag}/>")
    elif isinstance(value, dict):
        out.append(f"{indent}<{tag}>")
        for key, child in value.items():
            _xml_value(str(key), child, indent + "    ", out)
        out.append(f"{indent}</{tag}>")
    elif isinstance(value, list):
        out.append(f"{indent}<{tag}>")
        for child in value:
            _xml_value("item", child, indent + "    ", out)
        out.append(f"{indent}</{tag}>")
    else:
        out.append(f"{indent}<{tag}>{_text(value)}</{tag}>")


def render_xml(payload: dict[str, Any]) -> bytes:
    out = ['<?xml version="1.0"?>', "<response>"]
    for key, value in payload.items():
        _xml_value(key, value, "    ", out)
    out.append("</response>")
    return ("\n".join(out) + "\n").encode("utf-8")


def render(payload: dict[str, Any], fmt: str) -> tuple[bytes, str]:
    """Body and content type for ``fmt`` (``"json"`` or ``"xml"``)."""
    if fmt == "xml":
        return render_xml(payload), XML_TYPE
    return render_json(payload), JSON_TYPE
