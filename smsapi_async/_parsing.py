"""Turn a response body, JSON or XML, into one dict shape, and its error block into an exception.

The XML the API sends mirrors its JSON: root ``<response>``, one child per key, arrays as a
container of ``<item>`` elements, and ``null``, ``""``, ``[]`` and ``{}`` all as self-closing tags.
Parsing XML yields the JSON shape with every scalar as text and every empty value as ``None``,
so the models, which convert leniently, serve both formats. Older hand-written samples repeat an
element instead of using ``<item>``; repeated siblings become a list too.

XML is parsed with ``defusedxml``: DTDs, entity expansion and external references are refused,
so an XML bomb is a :class:`ResponseParseError`, never a hang or a memory blow-up.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from ._echo import API_CODE
from ._exceptions import ResponseParseError, error_for_code

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

__all__ = ["MAX_DEPTH", "MAX_VALUES", "XmlTooDeepError", "parse_body", "raise_for_error", "xml_to_dict"]

MAX_DEPTH = 64
"""Deeper nesting than any real response; refused so that a hostile body cannot recurse us dry."""

MAX_VALUES = 100_000
"""More values than any real answer holds (a page is 100 rows of a few dozen fields). Each parsed
value costs up to ~90 bytes, so a body of tiny values (``[{},{},...]``) would cost 25 times its
size to parse; counted before parsing (JSON: ``,`` ``:`` ``{`` ``[``; XML: every ``<``, about two
an element, each costing twice a JSON value), such a body is refused, and parsing stays within a
few times the size limit."""

_EXCERPT = 200


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*(?:"|\\?$)', re.DOTALL)  # closed, or cut off by the excerpt
_XML_TEXT = re.compile(r">([^<]+)(?=<|$)")
_XML_ATTRIBUTE = re.compile(r"""=\s*(?:"[^"]*"?|'[^']*'?)""")


def excerpt(body: bytes) -> str:
    """The start of a body, decoded leniently, for error messages: structure kept, values not.

    In a JSON or API-XML body every string value (and every element's text) is blanked to ``…``,
    because any of them may be message text, a password or a sub-account's API secret; keys,
    numbers and tags stay, which is what diagnosing a broken answer needs. Other bodies (an HTML
    error page from a proxy) are shown as they are.
    """
    text = body[:_EXCERPT].decode("utf-8", errors="replace")
    start = text.lstrip()
    if start.startswith(("{", "[")):
        text = _JSON_STRING.sub(_blank_json_value, text)
    elif start.startswith("<?xml") or "<response" in text:
        text = _XML_ATTRIBUTE.sub(
            '="…"', _XML_TEXT.sub(lambda m: ">…" if m.group(1).strip() else m.group(0), text)
        )
    return text + ("…" if len(body) > _EXCERPT else "")


def _blank_json_value(match: re.Match[str]) -> str:
    rest = match.string[match.end() :].lstrip()
    is_key = match.group(0).endswith('"') and len(match.group(0)) > 1 and rest.startswith(":")
    return match.group(0) if is_key else '"…"'


def parse_body(
    body: bytes, response_format: str, *, status_code: int | None, call: str | None
) -> dict[str, Any]:
    """Parse a body in ``response_format`` (``"json"`` or ``"xml"``) into a dict.

    Raises:
        ResponseParseError: the body is empty, not well-formed, hostile, or not one object.
    """

    def fail(reason: str) -> ResponseParseError:
        return ResponseParseError(reason, status_code=status_code, excerpt=excerpt(body), call=call)

    # Every failure is raised outside its except block: the parser's own error (a JSONDecodeError
    # holds the whole body in .doc) must not ride along as __context__.
    if not body.strip():
        raise fail("empty response body")
    reason = ""
    if _values_in(body, response_format) > MAX_VALUES:
        raise fail(f"more than {MAX_VALUES} values: no answer of the API holds that many")
    if response_format == "xml":
        # loaded by the first XML answer, so that JSON clients never load an XML parser
        from xml.etree.ElementTree import ParseError  # noqa: PLC0415

        import defusedxml.ElementTree  # noqa: PLC0415

        try:
            root = defusedxml.ElementTree.fromstring(body, forbid_dtd=True)
        except defusedxml.DefusedXmlException as exc:
            reason = f"refused hostile XML ({type(exc).__name__})"
        except (ParseError, ValueError) as exc:
            reason = f"malformed XML ({exc})"
        if reason:
            raise fail(reason)
        if root.tag != "response":
            raise fail(f"XML root is <{root.tag}>, expected <response>")
        try:
            tree = xml_to_dict(root)
        except XmlTooDeepError:
            reason = "XML nested too deeply"
        if reason:
            raise fail(reason)
        return tree if tree is not None else {}
    try:
        data = json.loads(body.decode("utf-8"), parse_int=_parse_int)
    except UnicodeDecodeError:
        reason = "response is not UTF-8"
    except json.JSONDecodeError as exc:
        reason = f"malformed JSON ({exc.msg} at char {exc.pos})"
    except RecursionError:
        reason = "JSON nested too deeply"
    if reason:
        raise fail(reason)
    if not isinstance(data, dict):
        raise fail(f"JSON body is a {type(data).__name__}, expected an object")
    return data


def _values_in(body: bytes, response_format: str) -> int:
    """An upper bound on the values a body parses into (separators inside strings count too)."""
    if response_format == "xml":
        return body.count(b"<")
    return body.count(b",") + body.count(b":") + body.count(b"{") + body.count(b"[")


_MAX_INT_DIGITS = 40


def _parse_int(text: str) -> int | str:
    """A JSON integer; one too long to be any real value stays text, for its field to refuse by name
    (and so that nothing ever does arithmetic on, or prints, a 5 000-digit integer)."""
    return int(text) if len(text) <= _MAX_INT_DIGITS else text


class XmlTooDeepError(ValueError):
    """The XML nests deeper than :data:`MAX_DEPTH`."""


def xml_to_dict(element: Element) -> dict[str, Any] | None:
    """Convert a ``<response>``-style element into the JSON shape (see module docstring).

    Raises:
        XmlTooDeepError: nesting deeper than :data:`MAX_DEPTH`.
    """
    value = _convert(element, 0)
    if value is None or isinstance(value, dict):
        return value
    return {"item": value} if isinstance(value, list) else {"value": value}


def _convert(element: Element, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise XmlTooDeepError("XML nested too deeply")
    children = list(element)
    if not children:
        text = (element.text or "").strip()
        return text or None
    if all(child.tag == "item" for child in children):
        return [_convert(child, depth + 1) for child in children]
    result: dict[str, Any] = {}
    for child in children:
        value = _convert(child, depth + 1)
        if child.tag in result:  # repeated element without <item>: older samples do this
            existing = result[child.tag]
            if isinstance(existing, _Repeated):
                existing.append(value)
            else:
                result[child.tag] = _Repeated([existing, value])
        else:
            result[child.tag] = value
    for key, value in result.items():
        if isinstance(value, _Repeated):
            result[key] = list(value)
    return result


class _Repeated(list[Any]):
    """Marks a list built from repeated sibling elements (as opposed to an ``<item>`` list)."""


def raise_for_error(data: dict[str, Any], *, status_code: int | None, call: str | None) -> None:
    """Raise the mapped :class:`ApiError` unless ``error.code`` is ``SUCCESS``.

    Success is decided by the code alone: a 200 with an error code fails, and a success code with
    odd neighbouring fields succeeds. A code that is not an API constant becomes ``HTTP_<status>``
    (or ``UNKNOWN``), and a description that is not text is dropped: either may hold anything.
    """
    error = data.get("error")
    if not isinstance(error, dict):
        raise ResponseParseError(
            "response has no error block",
            status_code=status_code,
            excerpt="keys: " + ", ".join(sorted(map(str, data)))[:_EXCERPT],
            call=call,
        )
    code = error.get("code")
    if code == "SUCCESS":
        return
    if not isinstance(code, str) or not API_CODE.match(code):
        # not one of the API's constants: a server may have put anything there, message text included
        code = f"HTTP_{status_code}" if status_code else "UNKNOWN"
    description = error.get("description")
    raise error_for_code(code, description if isinstance(description, str) else None, status_code, call)
