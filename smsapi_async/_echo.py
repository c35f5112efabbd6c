"""Blanking what a server echoes back of a request's private values in the errors the client raises.

An API description, an error code or a proxy's error page may quote the request: the message text,
a password, the ``Authorization`` header. Such a quote is blanked to ``…`` before the error reaches
anyone (its ``str``, event hooks, OpenTelemetry, logs), in each form a server may have written it:
as sent, URL-encoded (``+`` or ``%20`` for spaces), HTML-escaped, JSON-escaped, and the Basic
credential in base64. An excerpt is cut after 200 characters, so a quote cut off by its end is
blanked too. An error code that is not an API constant (``[A-Z][A-Z0-9_]*``, at most 64 characters)
or that quotes a private value is replaced, and a description that is not text is dropped.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus

from ._exceptions import ApiError, ResponseParseError
from ._validate import PRIVATE_PARAMETERS

__all__ = ["API_CODE", "blank_echoes", "private_values"]

API_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}\Z")
"""What an error code the API defines looks like (``FIELD_INVALID``, ``AUTH_FAILED_UNAUTHORIZED``)."""

_SHORTEST = 4  # shorter values would blank ordinary words
_CUT = 8  # a quote cut off at the end of an excerpt is blanked from this many characters on


def private_values(form: Mapping[str, str], secrets: Iterable[str] = ()) -> list[str]:
    """The values an error must not show, in every form a server may echo them."""
    values = [value for key, value in form.items() if key in PRIVATE_PARAMETERS]
    found: set[str] = set(secrets)
    for value in values:
        found.update(
            (
                value,
                quote_plus(value),
                quote(value, safe=""),
                quote(value),
                html.escape(value),
                html.escape(value, quote=False),
                json.dumps(value)[1:-1],
                json.dumps(value, ensure_ascii=False)[1:-1],
            )
        )
    return sorted((v for v in found if len(v) >= _SHORTEST), key=len, reverse=True)


def _blank(text: str, private: list[str], *, cut: bool) -> str:
    for value in private:
        if value in text:
            text = text.replace(value, "…")
    if cut:  # an excerpt cut short ends with "…", and before it may be the start of a quote
        body, mark = (text[:-1], "…") if text.endswith("…") else (text, "")
        for value in private:
            for size in range(min(len(value) - 1, len(body)), _CUT - 1, -1):
                if body.endswith(value[:size]):
                    return body[:-size] + "…"
        return body + mark
    return text


def blank_echoes(exc: ApiError | ResponseParseError, private: list[str], status_code: int | None) -> None:
    """Blank in place, in ``exc``, every quote of ``private`` values (see the module docstring)."""
    if isinstance(exc, ResponseParseError):
        if private:
            exc.excerpt = _blank(exc.excerpt, private, cut=True)
        return
    if not API_CODE.match(exc.code) or any(value in exc.code for value in private):
        exc.code = f"HTTP_{status_code}" if status_code else "UNKNOWN"
    if not isinstance(exc.description, str):
        exc.description = None
    elif private:
        exc.description = _blank(exc.description, private, cut=False)
