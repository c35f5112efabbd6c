"""The lenient converters every model uses: numbers, money, flags, timestamps, custom fields."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsapi_async import ResponseParseError
from smsapi_async._convert import (
    api_field,
    as_list,
    extra_field,
    fields_map,
    from_api,
    opt,
    to_bool,
    to_date,
    to_datetime,
    to_decimal,
    to_int,
    to_msisdn,
    to_str,
)

phone_digits = st.integers(min_value=10**5, max_value=10**15 - 1)
utc_datetimes = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(timezone.utc)
).map(lambda d: d.replace(microsecond=0))


@given(phone_digits)
def test_phone_numbers_are_the_same_string_whether_sent_as_int_or_text(number: int) -> None:
    assert to_msisdn(number) == to_msisdn(str(number)) == to_msisdn(f"+{number}") == str(number)


@given(st.integers(min_value=-(2**52), max_value=2**52))
def test_integers_survive_every_spelling(value: int) -> None:
    assert to_int(value) == to_int(str(value)) == to_int(float(value)) == to_int(f"{value}.0") == value


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=3, allow_nan=False))
def test_money_survives_numbers_strings_and_currency_signs(amount: Decimal) -> None:
    assert to_decimal(str(amount)) == amount
    assert to_decimal(f"${amount}") == amount
    assert to_decimal(float(amount)) == Decimal(repr(float(amount)))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("$14.630", Decimal("14.630")),
        (0.087, Decimal("0.087")),
        (None, Decimal(0)),
        ("", Decimal(0)),
        (-1, Decimal(-1)),
    ],
)
def test_money_examples_from_the_api(raw: object, expected: Decimal) -> None:
    assert to_decimal(raw) == expected


@given(utc_datetimes)
def test_timestamps_parse_from_the_space_and_the_t_z_forms(moment: datetime) -> None:
    spaced = moment.strftime("%Y-%m-%d %H:%M:%S")
    iso = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert to_datetime(spaced) == to_datetime(iso) == moment
    assert to_datetime(moment.astimezone(timezone(timedelta(hours=10)))) == moment
    assert to_date(spaced) == moment.date()


@pytest.mark.parametrize("empty", [None, "", "0000-00-00 00:00:00", "  "])
def test_empty_timestamps_are_none(empty: object) -> None:
    assert to_datetime(empty) is None
    assert to_date(empty) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, True),
        ("true", True),
        ("OK", True),
        ("yes", True),
        (1, True),
        ("false", False),
        ("no", False),
        (None, False),
        ("", False),
        (0, False),
    ],
)
def test_flags_in_every_spelling_the_api_uses(raw: object, expected: bool) -> None:
    assert to_bool(raw) is expected


def test_an_unreadable_flag_is_an_error() -> None:
    with pytest.raises(ValueError, match="not a boolean"):
        to_bool("maybe")


field_names = st.text(alphabet=st.characters(categories=("L", "N")), min_size=1, max_size=12)


@given(st.dictionaries(field_names, st.text(max_size=20), max_size=10))
def test_custom_fields_read_the_same_from_a_map_or_a_name_value_array(values: dict[str, str]) -> None:
    as_array = [{"name": k, "value": v} for k, v in values.items()]
    assert fields_map(values) == fields_map(as_array) == values


@pytest.mark.parametrize("empty", [None, "", [], {}])
def test_empty_custom_fields_in_any_shape(empty: object) -> None:
    assert fields_map(empty) == {}


def test_as_list_accepts_a_lone_item_as_xml_gives_it() -> None:
    assert as_list({"id": "1"}) == [{"id": "1"}]
    assert as_list(None) == []
    assert as_list([1, 2]) == [1, 2]


def test_to_str_and_opt() -> None:
    assert to_str(None) == ""
    assert to_str(61400000001.0) == "61400000001"
    assert to_str(False) == "false"
    assert opt(to_int)("") is None
    assert opt(to_int)("7") == 7


@attrs.frozen
class Sample:
    count: int = api_field(to_int, key="recipientCount", aliases=("recipient_count",))
    opt_outs: int = api_field(to_int, key="opt-outs", aliases=("optouts",))
    when: datetime | None = api_field(to_datetime)
    extra: dict[str, object] = extra_field()


def test_from_api_reads_odd_keys_and_aliases_and_keeps_the_rest() -> None:
    sample = from_api(Sample, {"recipientCount": "3", "optouts": 1, "when": None, "new_thing": [1]})
    assert (sample.count, sample.opt_outs, sample.when) == (3, 1, None)
    assert sample.extra == {"new_thing": [1]}
    assert from_api(Sample, {}) == Sample()


def test_from_api_turns_unconvertible_values_into_a_parse_error() -> None:
    with pytest.raises(ResponseParseError, match="Sample"):
        from_api(Sample, {"recipientCount": "three"})


def test_date_only_values() -> None:
    assert to_date("2020-06-26") == date(2020, 6, 26)
