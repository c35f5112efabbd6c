"""SMS part counting: GSM-7 (160 / 153 per part) or UCS-2 (70 / 67 per part)."""

from __future__ import annotations

import math

__all__ = ["MAX_MESSAGE_CHARS", "count_parts", "is_gsm7"]

MAX_MESSAGE_CHARS = 612

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension-table characters take an escape septet plus their own: they count double.
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


def is_gsm7(text: str) -> bool:
    """True when every character fits the GSM 03.38 alphabet (basic or extension table)."""
    return all(c in _GSM7_BASIC or c in _GSM7_EXTENDED for c in text)


def count_parts(text: str) -> int:
    """Number of SMS parts needed for ``text`` (0 for an empty text)."""
    if is_gsm7(text):
        septets = sum(2 if c in _GSM7_EXTENDED else 1 for c in text)
        single, multi = 160, 153
    else:
        septets = len(text.encode("utf-16-le", "surrogatepass")) // 2
        single, multi = 70, 67
    if septets == 0:
        return 0
    return 1 if septets <= single else math.ceil(septets / multi)
