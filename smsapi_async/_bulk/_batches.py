"""Recipients coalesced into calls, and the filter that says which were journaled already."""

from __future__ import annotations

from typing import Final

import attrs

from ._input import Template


@attrs.define(slots=True)
class Group:
    """Recipients of one text and options waiting for their call."""

    template: Template
    recipients: list[tuple[int, str, str]] = attrs.Factory(list)


@attrs.define(slots=True)
class Batch:
    """One ``send-sms`` call: a text and options, and up to 500 recipients."""

    template: Template
    recipients: list[tuple[int, str, str]]  # (input index, number as given, canonical number)


class Bloom:
    """Which (text and options, number) pairs may have been journaled: "no" is certain, so the
    journal is asked only on a "maybe". 16 Mbit (2 MB) with 3 probes: under 2 % false "maybe" for a
    million recipients; more recipients only means asking the journal more often.

    The probes come from Python's own ``hash`` of the pair (two 32-bit halves, combined as
    ``h1 + i * h2``), a quarter of the cost of a cryptographic digest on the per-recipient path. Its
    per-process salt is no obstacle: the filter lives in memory only and each run rebuilds it from
    the journal.
    """

    BITS: Final = 1 << 24

    def __init__(self) -> None:
        self._bits = bytearray(self.BITS // 8)

    def _probes(self, key: str, number: str) -> tuple[int, int, int]:
        h = hash((key, number))
        h1, h2 = h & 0xFFFFFFFF, (h >> 32) | 1
        mask = self.BITS - 1
        return h1 & mask, (h1 + h2) & mask, (h1 + 2 * h2) & mask

    def add(self, key: str, number: str) -> None:
        for bit in self._probes(key, number):
            self._bits[bit >> 3] |= 1 << (bit & 7)

    def __contains__(self, pair: tuple[str, str]) -> bool:
        return all(self._bits[bit >> 3] & (1 << (bit & 7)) for bit in self._probes(*pair))
