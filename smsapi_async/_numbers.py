"""Canonical phone numbers for de-duplication: ``phonenumbers`` when installed, else the API's own rules.

With ``countrycode`` the API turns a local number into an international one (AU ``0491570156`` →
``61491570156``, US ``2513551145`` → ``12513551145``). Without the ``phonenumbers`` extra, the same is
done here for the countries below; other countries' local numbers are left for the API to convert.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from types import ModuleType
from typing import Any, Final

from ._sms_text import normalise_number

__all__ = ["NORMALISER", "canonical_number"]

NORMALISER: Final = "phonenumbers" if importlib.util.find_spec("phonenumbers") else "builtin"
"""Which normaliser is in use (a journal refuses a run that normalises differently)."""


@functools.cache
def _phonenumbers() -> Any:
    """The optional ``phonenumbers`` extra, imported on first use (it is large)."""
    module: ModuleType = importlib.import_module("phonenumbers")
    return module


# ISO 3166 alpha-2 (and the names the API accepts) -> dialling code and national number lengths
_COUNTRIES: Final[dict[str, tuple[str, tuple[int, ...]]]] = {
    "AU": ("61", (9,)),
    "NZ": ("64", (8, 9, 10)),
    "GB": ("44", (10,)),
    "US": ("1", (10,)),
    "CA": ("1", (10,)),
    "SG": ("65", (8,)),
    "IE": ("353", (9,)),
    "IN": ("91", (10,)),
    "ZA": ("27", (9,)),
    "PH": ("63", (10,)),
    "MY": ("60", (9, 10)),
    "DE": ("49", (10, 11)),
    "FR": ("33", (9,)),
}
_NAMES: Final = {
    "AUSTRALIA": "AU",
    "NEW ZEALAND": "NZ",
    "UNITED KINGDOM": "GB",
    "UK": "GB",
    "GREAT BRITAIN": "GB",
    "UNITED STATES": "US",
    "USA": "US",
    "CANADA": "CA",
    "SINGAPORE": "SG",
    "IRELAND": "IE",
    "INDIA": "IN",
    "SOUTH AFRICA": "ZA",
    "PHILIPPINES": "PH",
    "MALAYSIA": "MY",
    "GERMANY": "DE",
    "FRANCE": "FR",
}


def _region(countrycode: str | None) -> str | None:
    if not countrycode:
        return None
    code = countrycode.strip().upper()
    return _NAMES.get(code, code)


def canonical_number(raw: str, countrycode: str | None = None) -> str:
    """``raw`` as international digits without ``+``, the form de-duplication compares.

    A number starting ``+`` or ``00`` is international. Otherwise, with ``countrycode``, a
    national number (one leading ``0`` dropped) of that country's length gets its dialling code,
    as the API does; anything else passes through as digits.

    Raises :class:`InvalidRequestError` for what is not a phone number (6 to 15 digits).
    """
    digits = normalise_number("to", raw)
    stripped = raw.strip()
    if stripped.startswith("+"):
        return digits
    if digits.startswith("00"):
        return normalise_number("to", digits[2:])
    region = _region(countrycode)
    if region is None:
        return digits
    if NORMALISER == "phonenumbers":
        phonenumbers = _phonenumbers()
        try:
            parsed = phonenumbers.parse(digits, region)
        except phonenumbers.NumberParseException:
            return digits
        if phonenumbers.is_possible_number(parsed):
            return f"{parsed.country_code}{parsed.national_number}"
        return digits
    known = _COUNTRIES.get(region)
    if known is None:
        return digits
    dial, lengths = known
    national = digits[1:] if digits.startswith("0") else digits
    return dial + national if len(national) in lengths else digits
