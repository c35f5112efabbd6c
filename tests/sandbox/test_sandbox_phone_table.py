"""The sandbox formats numbers with the client's own table of countries (smsapi_async/_numbers.py),
so the two cannot drift apart: a country added there is known to the sandbox too."""

from __future__ import annotations

import phonenumbers
import pytest

from smsapi_async import _numbers
from smsapi_async.sandbox import _phone


def test_a_country_added_to_the_clients_table_is_known_to_the_sandbox(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    monkeypatch.setattr(_phone, "_phonenumbers", None)  # no numbering plan for a made-up country
    _phone._valid.cache_clear()
    request.addfinalizer(_phone._valid.cache_clear)  # what it cached here holds without a plan only
    monkeypatch.setitem(_numbers._COUNTRIES, "XX", ("999", (7,)))
    monkeypatch.setitem(_numbers._NAMES, "EXAMPLELAND", "XX")
    assert _phone.normalise("0123 4567", "Exampleland") == "9991234567"
    assert _phone.country_dialling_code("xx") == "999"
    formatted = _phone.format_number("1234567", "XX")
    assert (formatted.international, formatted.is_valid) == (9991234567, True)
    assert _numbers.country_plan("Exampleland") == ("XX", "999", (7,))


def test_the_sandbox_and_the_client_agree_on_every_known_country() -> None:
    for region, (dial, lengths) in _numbers._COUNTRIES.items():
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        national = phonenumbers.national_significant_number(example)
        assert len(national) in lengths, region
        assert _phone.normalise("0" + national, region) == dial + national
        assert _phone.country_dialling_code(region) == dial
    assert set(_phone._MOBILE_PREFIXES) <= set(_numbers._COUNTRIES)
