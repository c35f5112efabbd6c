"""The lenient converters every model uses: numbers, money, flags, timestamps, custom fields."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import partial
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import smsapi_async.models
from smsapi_async import ResponseParseError
from smsapi_async._convert import (
    INT64_MAX,
    INT64_MIN,
    ConversionError,
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


# --- hostile numbers: bounded time, bounded range, one error type ---------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=80),
    st.from_regex(r"[+-]?[0-9]{0,30}(\.[0-9]{0,30})?([eE][+-]?[0-9]{1,12})?", fullmatch=True),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
)


@pytest.mark.parametrize("convert", [to_int, to_decimal, to_bool, to_datetime, to_date, to_str, to_msisdn])
@given(value=json_values)
def test_converters_accept_or_refuse_with_one_error_type(convert: Any, value: object) -> None:
    try:
        convert(value)
    except ConversionError:
        return
    except (ValueError, OverflowError) as exc:  # the datetime module's own refusals
        error: Exception | None = exc
    else:
        return
    assert convert in (to_datetime, to_date), error


@given(st.integers(min_value=INT64_MIN, max_value=INT64_MAX))
def test_every_64_bit_integer_is_read_in_every_spelling(value: int) -> None:
    assert to_int(value) == to_int(str(value)) == to_int(f"{value}.0") == value


@pytest.mark.parametrize(
    "raw",
    [
        "1e1000000",
        "-1e1000000",
        "1E+999999999",
        "9" * 5000,
        2**64,
        -(2**63) - 1,
        "1e19",
        float("nan"),
        float("inf"),
        "NaN",
        "Infinity",
        "12.5",
        "abc",
        [1],
        {"a": 1},
    ],
)
def test_ids_and_counts_refuse_what_does_not_fit_64_bits_at_once(raw: object) -> None:
    started = time.thread_time()  # CPU time: a busy machine's waits for a core do not count
    with pytest.raises(ConversionError):
        to_int(raw)
    assert time.thread_time() - started < 0.5  # microseconds; int(Decimal("1e1000000")) takes minutes


@pytest.mark.parametrize(
    "raw", ["1e1000000", "1e-1000000", "1e15", 10**15, "0.0000000000000000000001", float("nan"), "$", [1]]
)
def test_money_refuses_huge_tiny_and_non_finite_amounts_at_once(raw: object) -> None:
    started = time.thread_time()
    with pytest.raises(ConversionError):
        to_decimal(raw)
    assert time.thread_time() - started < 0.5


def test_money_keeps_a_float_repr_and_trailing_zeros() -> None:
    assert to_decimal(0.1 + 0.2) == Decimal("0.30000000000000004")
    assert to_decimal("14.6300000000000000000000000") == Decimal("14.63")
    assert to_decimal(10**15 - 1) == Decimal(10**15 - 1)


models = [
    cls
    for cls in map(partial(getattr, smsapi_async.models), dir(smsapi_async.models))  # names load lazily
    if isinstance(cls, type) and attrs.has(cls) and hasattr(cls, "from_api")
]
assert len(models) > 20, models  # an empty list would turn the test below into one silent skip


@pytest.mark.parametrize("cls", models, ids=lambda cls: cls.__name__)
@given(data=json_values)
def test_any_answer_builds_a_model_or_a_parse_error_naming_the_field(cls: Any, data: object) -> None:
    if isinstance(data, dict):
        fields = attrs.fields(cls)
        data = {
            field.metadata.get("api_key") or field.name: value
            for field, value in zip(fields, data.values(), strict=False)
        }
    try:
        cls.from_api(data)
    except ResponseParseError as exc:
        error: ResponseParseError | None = exc
    else:
        return
    assert error is not None
    assert error.reason.startswith(cls.__name__)
    assert len(error.excerpt) <= 40


def test_a_refused_value_is_shown_only_when_it_is_a_short_number() -> None:
    with pytest.raises(ResponseParseError) as info:
        from_api(Sample, {"recipientCount": "1e99999"})
    assert info.value.excerpt == "'1e99999'"
    assert "Sample.recipientCount" in str(info.value)
    with pytest.raises(ResponseParseError) as info:
        from_api(Sample, {"recipientCount": "my secret words"})
    assert "secret" not in str(info.value)
    assert info.value.excerpt == "<text of 15 characters>"
