"""Phone-number normalisation, as the platform's libphonenumber-based formatter does it.

Local numbers are read with ``countrycode`` through the client's own table of countries
(``smsapi_async/_numbers.py``: AU, NZ, GB, US, CA, SG, IE, IN, ZA, PH, MY, DE, FR), so the two never
disagree; ``countrycode`` may be the ISO alpha-2 code or the English country name, in any case.
Numbers in international format (8-15 digits, no leading 0, an optional ``+``) are taken as such;
spaces, dots, hyphens and brackets are ignored. Then, with the ``phonenumbers`` package (Google's
libphonenumber rules, installed with the sandbox), a number must be valid by its country's numbering
plan: ``61400000000`` is an Australian mobile, ``61900000000`` and ``15551234567`` are not numbers at all.
Without the package, any 8-15 digits pass.
"""

from __future__ import annotations

import re
from functools import lru_cache
from types import ModuleType

import attrs

from .._numbers import country_plan

_phonenumbers: ModuleType | None
try:
    import phonenumbers as _phonenumbers
except ImportError:  # pragma: no cover - the sandbox extra installs it
    _phonenumbers = None


__all__ = ["FormattedNumber", "country_dialling_code", "format_number", "normalise"]


@attrs.frozen
class _Country:
    dial: str
    national_lengths: tuple[int, ...]
    mobile_prefixes: tuple[str, ...]


# What only the sandbox needs on top of the library's table of countries (smsapi_async/_numbers.py):
# the national prefixes of mobile numbers, for format-number's ``type``.
_MOBILE_PREFIXES: dict[str, tuple[str, ...]] = {
    "AU": ("4",),
    "NZ": ("2",),
    "GB": ("7",),
    "US": ("",),
    "CA": ("",),
    "SG": ("8", "9"),
    "IE": ("8",),
    "IN": ("6", "7", "8", "9"),
    "ZA": ("6", "7", "8"),
    "PH": ("9",),
    "MY": ("1",),
    "DE": ("15", "16", "17"),
    "FR": ("6", "7"),
}
_SEPARATORS = re.compile(r"[\s().\-/]")
_INTERNATIONAL = re.compile(r"[1-9][0-9]{7,14}\Z")


def _country(countrycode: str | None) -> _Country | None:
    plan = country_plan(countrycode)
    if plan is None:
        return None
    region, dial, lengths = plan
    return _Country(dial, lengths, _MOBILE_PREFIXES.get(region, ("",)))


def country_dialling_code(countrycode: str) -> str | None:
    """The dialling code (``"61"``) for an ISO code or country name, or None if unknown."""
    country = _country(countrycode)
    return country.dial if country else None


def normalise(raw: str, countrycode: str | None = None) -> str | None:
    """Return the number in international format without ``+``, or None when it is not valid."""
    digits = _SEPARATORS.sub("", raw.strip())
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    else:
        country = _country(countrycode)
        if country is not None:
            national = digits[1:] if digits.startswith("0") else digits
            if national.isdigit() and len(national) in country.national_lengths:
                digits = country.dial + national
    if not digits.isascii() or not _INTERNATIONAL.match(digits) or not _valid(digits):
        return None
    return digits


@lru_cache(maxsize=65536)
def _valid(digits: str) -> bool:
    """Whether ``+digits`` is a number by its country's numbering plan (always, without phonenumbers);
    about 50 µs a number, so a 500-recipient send spends some 25 ms here."""
    if _phonenumbers is None:
        return True
    try:
        number = _phonenumbers.parse("+" + digits, None)
    except _phonenumbers.NumberParseException:
        return False
    return bool(_phonenumbers.is_valid_number(number))


@attrs.frozen
class FormattedNumber:
    """What ``format-number`` reports about a number."""

    countrycode: int
    nationalnumber: int
    international: int
    type: int  # 0 landline, 1 mobile, 10 invalid
    is_valid: bool


def format_number(raw: str, countrycode: str) -> FormattedNumber:
    """Validate ``raw`` for ``countrycode`` the way ``format-number`` does."""
    country = _country(countrycode)
    number = normalise(raw, countrycode)
    if country is None or number is None or not number.startswith(country.dial):
        digits = "".join(c for c in raw if c.isascii() and c.isdigit())[:18]
        dial = int(country.dial) if country else 0
        return FormattedNumber(dial, int(digits or 0), int(digits or 0), 10, False)
    national = number[len(country.dial) :]
    if len(national) not in country.national_lengths:
        return FormattedNumber(int(country.dial), int(national), int(number), 10, False)
    mobile = national.startswith(country.mobile_prefixes)
    return FormattedNumber(int(country.dial), int(national), int(number), 1 if mobile else 0, True)
