"""What a message will cost and why, before it is sent: :func:`analyze`.

Built on :func:`~smsapi_async.count_parts` (GSM 03.38 / 3GPP 23.040 part counting): it adds the
characters that forced the message into UCS-2 (with replacements that would keep it in GSM-7), the
``[placeholders]`` the API expands per recipient, the API's length limit and an estimated cost.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Final

import attrs

from ._exceptions import InvalidRequestError
from ._sms_text import GSM7, GSM_CHARACTERS, GSM_EXTENSION, MAX_MESSAGE_LENGTH, MULTI_PART, SINGLE_PART
from ._sms_text import count_parts as _count_parts
from ._validate import MAX_AMOUNT, shown

__all__ = [
    "BUILTIN_PLACEHOLDERS",
    "MAX_PARTS",
    "ForcingCharacter",
    "MessageAnalysis",
    "analyze",
    "render_placeholders",
]

MAX_PARTS: Final = 4
"""The most parts one ``send-sms`` message may take (612 GSM-7 characters)."""

BUILTIN_PLACEHOLDERS: Final = frozenset(
    {"firstname", "lastname", "mobile", "tracked-link", "unsub-reply-link"}
)
"""Placeholders the API itself knows; any other ``[name]`` is a custom field of the list sent to."""

_PLACEHOLDER: Final = re.compile(r"\[([A-Za-z][A-Za-z0-9_\- ]{0,63})\]")

# Look-alikes people paste from word processors and phones, and their GSM-7 stand-ins.
_REPLACEMENTS: Final[Mapping[str, str]] = {
    "\u2018": "'",  # left single quotation mark
    "\u2019": "'",  # right single quotation mark, apostrophe
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",  # prime
    "\u00b4": "'",  # acute accent
    "`": "'",
    "\u201c": '"',  # left double quotation mark
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',  # double prime
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2039": "'",
    "\u203a": "'",
    "\u2010": "-",  # hyphen
    "\u2011": "-",  # non-breaking hyphen
    "\u2012": "-",  # figure dash
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2015": "-",  # horizontal bar
    "\u2212": "-",  # minus sign
    "\u2026": "...",  # ellipsis
    "\u2022": "-",  # bullet
    "\u00b7": ".",  # middle dot
    "\u00d7": "x",  # multiplication sign
    "\u00f7": "/",
    "\u00a0": " ",  # no-break space
    "\u2002": " ",
    "\u2003": " ",
    "\u2007": " ",
    "\u2008": " ",
    "\u2009": " ",  # thin space
    "\u200a": " ",
    "\u202f": " ",  # narrow no-break space
    "\u205f": " ",
    "\u3000": " ",
    "\t": " ",
    "\u200b": "",  # zero-width space
    "\u200c": "",
    "\u200d": "",
    "\u2060": "",
    "\ufeff": "",  # byte order mark
    "\u00ad": "",  # soft hyphen
    "\u2028": "\n",
    "\u2029": "\n",
    "\u00a9": "(c)",
    "\u00ae": "(R)",
    "\u2122": "TM",
}


@attrs.frozen(slots=True)
class ForcingCharacter:
    """A character outside the GSM-7 alphabet, which makes the whole message travel as UCS-2.

    Attributes:
        character: the character itself.
        codepoint: e.g. ``"U+2019"``.
        name: its Unicode name, e.g. ``"RIGHT SINGLE QUOTATION MARK"`` (``""`` when it has none).
        count: how often it occurs.
        first_index: where it first occurs (an index into the text).
        replacement: GSM-7 text that could stand in for it (``""``: just drop it), or ``None``
            when there is no sensible stand-in (an emoji, a letter of another script).
    """

    character: str
    codepoint: str
    name: str
    count: int
    first_index: int
    replacement: str | None


@attrs.frozen(slots=True)
class MessageAnalysis:
    """What :func:`analyze` found out about a message.

    Attributes:
        text: the message analysed.
        encoding: ``"GSM-7"`` or ``"UCS-2"``.
        characters: its length in characters (Unicode code points).
        units: its length as the network counts it: septets for GSM-7 (an extension-table
            character such as ``€`` or ``{`` takes two), UTF-16 code units for UCS-2 (an emoji
            takes two).
        parts: SMS parts, each billed as one SMS: one part carries 160 GSM-7 / 70 UCS-2 units,
            a part of a longer message 153 / 67.
        unit_limit: the units its parts can carry: 160 / 70 for one part, else ``parts`` times
            153 / 67 (an escape or surrogate pair is never split, so a part may carry one less).
        forcing: the characters that forced UCS-2, in order of appearance (empty for GSM-7).
        suggestion: the text with every forcing character replaced, when that makes it GSM-7;
            else ``None``.
        suggestion_parts: the parts :attr:`suggestion` would take (``None`` without one).
        placeholders: the ``[names]`` found, in order, each once (``firstname``, a custom field,
            ``tracked-link``, ``unsub-reply-link``...). The API expands them per recipient, so
            the real length differs from the template's.
        custom_fields: the placeholders that are not built into the API (list fields).
        fits: whether ``send-sms`` accepts it: at most 612 characters and at most 4 parts.
        price_per_part: the per-part price given to :func:`analyze`, if any.
        cost_per_recipient: ``parts * price_per_part`` (``None`` without a price).
    """

    text: str = attrs.field(repr=False)
    encoding: str
    characters: int
    units: int
    parts: int
    unit_limit: int
    forcing: tuple[ForcingCharacter, ...]
    suggestion: str | None = attrs.field(repr=False)
    suggestion_parts: int | None
    placeholders: tuple[str, ...]
    custom_fields: tuple[str, ...]
    fits: bool
    price_per_part: Decimal | None
    cost_per_recipient: Decimal | None

    @property
    def is_gsm7(self) -> bool:
        """Whether the message travels in the GSM-7 alphabet (the cheaper encoding)."""
        return self.encoding == GSM7

    @property
    def problems(self) -> tuple[str, ...]:
        """Why the message would be refused or cost more than it looks, as sentences (may be empty)."""
        found: list[str] = []
        if not self.text.strip():
            found.append("the message is empty")
        if self.characters > MAX_MESSAGE_LENGTH:
            found.append(f"{self.characters} characters: send-sms accepts at most {MAX_MESSAGE_LENGTH}")
        if self.parts > MAX_PARTS:
            found.append(f"{self.parts} parts: a message may take at most {MAX_PARTS}")
        if self.forcing:
            shown = ", ".join(f"{f.character!r} ({f.codepoint})" for f in self.forcing[:5])
            found.append(f"sent as UCS-2 (70 characters a part) because of {shown}")
        return tuple(found)


def _units(text: str) -> int:
    if all(char in GSM_CHARACTERS for char in text):
        return sum(2 if char in GSM_EXTENSION else 1 for char in text)
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


def _replacement(char: str) -> str | None:
    known = _REPLACEMENTS.get(char)
    if known is not None:
        return known
    # an accented letter GSM-7 lacks (á, ç, ō...): its base letter, when that is in GSM-7
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    if base and base != char and all(c in GSM_CHARACTERS for c in base):
        return base
    return None


def _forcing(text: str) -> tuple[ForcingCharacter, ...]:
    found: dict[str, list[int]] = {}
    for index, char in enumerate(text):
        if char not in GSM_CHARACTERS:
            entry = found.setdefault(char, [0, index])
            entry[0] += 1
    return tuple(
        ForcingCharacter(
            character=char,
            codepoint=f"U+{ord(char):04X}",
            name=unicodedata.name(char, ""),
            count=count,
            first_index=first,
            replacement=_replacement(char),
        )
        for char, (count, first) in found.items()
    )


_MAX_PRICE_TEXT: Final = 40
"""A price given as text is at most this long (a longer one is not a price, and slow to read)."""


def _price(value: object) -> Decimal | None:
    if value is None:
        return None
    got = shown("price_per_part", value)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, str, Decimal))
        or (isinstance(value, str) and len(value) > _MAX_PRICE_TEXT)
    ):
        raise InvalidRequestError(f"price_per_part must be a number, got {got}")
    if isinstance(value, int) and value.bit_length() > 64:
        raise InvalidRequestError(f"price_per_part must be below {MAX_AMOUNT}, got {got}")
    try:
        price = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise InvalidRequestError(f"price_per_part must be a number, got {got}") from None
    if not price.is_finite() or price < 0:
        raise InvalidRequestError(f"price_per_part must be a finite number >= 0, got {got}")
    if price >= MAX_AMOUNT:
        raise InvalidRequestError(f"price_per_part must be below {MAX_AMOUNT}, got {got}")
    return price


def analyze(text: str, *, price_per_part: Decimal | float | str | None = None) -> MessageAnalysis:
    """Analyse ``text`` as an SMS: encoding, length, parts, what forces UCS-2, placeholders, cost.

    Nothing is sent. ``price_per_part`` (your price for one SMS part, e.g. ``"0.087"``) gives
    :attr:`MessageAnalysis.cost_per_recipient`.

        >>> a = analyze("Don\u2019t miss out!")
        >>> a.encoding, a.parts, a.forcing[0].replacement, a.suggestion
        ('UCS-2', 1, "'", "Don't miss out!")
        >>> analyze("Hi [firstname], 20€ off").placeholders
        ('firstname',)

    The counts are for the text as written: placeholders are expanded per recipient by the API,
    so a message that sits near a part boundary may take one part more for some recipients.

    Raises:
        InvalidRequestError: ``text`` is not a string (or not valid Unicode), or the price is
            not a finite number >= 0.
    """
    if not isinstance(text, str):
        raise InvalidRequestError(f"text must be a string, got {shown('message', text)}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequestError("text is not valid Unicode (it holds a lone surrogate)") from None
    price = _price(price_per_part)
    encoding, parts = _count_parts(text)
    forcing = _forcing(text)
    suggestion: str | None = None
    suggestion_parts: int | None = None
    if forcing and all(f.replacement is not None for f in forcing):
        table = {f.character: f.replacement or "" for f in forcing}
        suggestion = "".join(table.get(char, char) for char in text)
        suggestion_parts = _count_parts(suggestion).parts
    names: dict[str, None] = {}
    for match in _PLACEHOLDER.finditer(text):
        names.setdefault(match.group(1).lower(), None)
    placeholders = tuple(names)
    units = _units(text)
    unit_limit = SINGLE_PART[encoding] if parts <= 1 else MULTI_PART[encoding] * parts
    return MessageAnalysis(
        text=text,
        encoding=encoding,
        characters=len(text),
        units=units,
        parts=parts,
        unit_limit=unit_limit,
        forcing=forcing,
        suggestion=suggestion,
        suggestion_parts=suggestion_parts,
        placeholders=placeholders,
        custom_fields=tuple(name for name in placeholders if name not in BUILTIN_PLACEHOLDERS),
        fits=len(text) <= MAX_MESSAGE_LENGTH and parts <= MAX_PARTS,
        price_per_part=price,
        cost_per_recipient=None if price is None else price * parts,
    )


def render_placeholders(template: str, values: Mapping[str, str]) -> str:
    """``template`` with each ``[name]`` whose name (any case) is in ``values`` replaced by its value.

    Placeholders without a value (``[tracked-link]``, ``[unsub-reply-link]``...) are left for the
    API to expand. Used to personalise a message per recipient before a bulk send::

        >>> render_placeholders("Hi [firstname]! [tracked-link]", {"firstname": "Ann"})
        'Hi Ann! [tracked-link]'
    """
    lowered = {key.lower(): value for key, value in values.items()}

    def fill(match: re.Match[str]) -> str:
        value = lowered.get(match.group(1).lower())
        return match.group(0) if value is None else value

    return _PLACEHOLDER.sub(fill, template)
