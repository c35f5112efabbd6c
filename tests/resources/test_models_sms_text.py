"""Part counting and the checks send-sms arguments go through (``smsapi_async._sms_text``)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsapi_async import InvalidRequestError
from smsapi_async._sms_text import (
    _GSM_BASIC,
    _GSM_EXTENSION,
    GSM7,
    UCS2,
    check_email,
    check_sender,
    check_url,
    count_parts,
    normalise_number,
    normalise_numbers,
)

GSM_CHARS = sorted(_GSM_BASIC | _GSM_EXTENSION)
gsm_text = st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=700)
basic_gsm_text = st.text(alphabet=st.sampled_from(sorted(_GSM_BASIC)), max_size=700)
non_gsm_char = st.characters(blacklist_characters="".join(GSM_CHARS), blacklist_categories=("Cs",))
any_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=700)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("", (GSM7, 0)),
        ("a" * 160, (GSM7, 1)),
        ("a" * 161, (GSM7, 2)),
        ("a" * 306, (GSM7, 2)),
        ("a" * 307, (GSM7, 3)),
        ("a" * 612, (GSM7, 4)),
        ("€" * 80, (GSM7, 1)),  # extension characters take two septets
        ("€" * 81, (GSM7, 2)),
        ("a" * 159 + "€", (GSM7, 2)),  # 161 septets
        ("a" * 152 + "€" + "a" * 152, (GSM7, 3)),  # the escape pair does not straddle parts 1 and 2
        ("é" * 70, (GSM7, 1)),  # é is in the GSM alphabet
        ("й" * 70, (UCS2, 1)),
        ("й" * 71, (UCS2, 2)),
        ("й" * 134, (UCS2, 2)),
        ("й" * 135, (UCS2, 3)),
        ("😀" * 35, (UCS2, 1)),  # outside the BMP: two UTF-16 code units each
        ("😀" * 36, (UCS2, 2)),
        ("a" * 159 + "ç", (UCS2, 3)),  # one lower-case ç (not GSM; Ç is) makes it all UCS-2
    ],
)
def test_count_parts_at_the_boundaries(message: str, expected: tuple[str, int]) -> None:
    assert count_parts(message) == expected


@given(basic_gsm_text)
def test_basic_gsm_text_counts_one_septet_per_character(message: str) -> None:
    encoding, parts = count_parts(message)
    assert encoding == GSM7
    expected = 0 if not message else 1 if len(message) <= 160 else math.ceil(len(message) / 153)
    assert parts == expected


@given(gsm_text)
def test_text_in_the_gsm_alphabet_is_gsm7(message: str) -> None:
    assert count_parts(message).encoding == GSM7


@given(gsm_text, non_gsm_char, gsm_text)
def test_one_character_outside_the_gsm_alphabet_makes_it_ucs2(before: str, odd: str, after: str) -> None:
    assert count_parts(before + odd + after).encoding == UCS2


@given(any_text, any_text)
def test_parts_never_decrease_as_the_message_grows(message: str, more: str) -> None:
    assert count_parts(message).parts <= count_parts(message + more).parts


@given(any_text)
def test_parts_are_within_the_per_part_capacity_bounds(message: str) -> None:
    encoding, parts = count_parts(message)
    units = (
        sum(2 if c in _GSM_EXTENSION else 1 for c in message)
        if encoding == GSM7
        else sum(2 if ord(c) > 0xFFFF else 1 for c in message)
    )
    single, multi = (160, 153) if encoding == GSM7 else (70, 67)
    if units <= single:
        assert parts == (1 if units else 0)
    else:
        # at least what a perfect packing needs; at most one unit lost per part to an unsplit pair
        assert math.ceil(units / multi) <= parts <= math.ceil(units / (multi - 1))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("61491570156", "61491570156"),
        ("+61 491 570 156", "61491570156"),
        ("(04) 9157-0156", "0491570156"),
        ("+44.7500.176.96", "44750017696"),
    ],
)
def test_numbers_lose_punctuation_and_plus(raw: str, expected: str) -> None:
    assert normalise_number("to", raw) == expected


@pytest.mark.parametrize(
    "bad", ["", "   ", "abc", "12345", "1234567890123456", "++61491570156", "61#491570156", 61491570156]
)
def test_garbage_numbers_are_refused(bad: object) -> None:
    with pytest.raises(InvalidRequestError):
        normalise_number("to", bad)


def test_recipients_are_deduplicated_in_order() -> None:
    assert normalise_numbers("to", ["61400000002", "+61 400 000 001", "61400000002", "61400000001"]) == [
        "61400000002",
        "61400000001",
    ]
    assert normalise_numbers("to", "61400000001, 61400000002") == ["61400000001", "61400000002"]


@given(st.lists(st.integers(min_value=10**10, max_value=10**10 + 800), max_size=600))
def test_recipients_are_the_distinct_numbers_up_to_500(numbers: list[int]) -> None:
    distinct = list(dict.fromkeys(str(n) for n in numbers))
    if not distinct or len(distinct) > 500:
        with pytest.raises(InvalidRequestError):
            normalise_numbers("to", [str(n) for n in numbers])
    else:
        assert normalise_numbers("to", [str(n) for n in numbers]) == distinct


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("MyBrand", "MyBrand"),
        ("A1", "A1"),
        ("+61491570156", "61491570156"),
        ("123456789012345", "123456789012345"),
    ],
)
def test_valid_senders(sender: str, expected: str) -> None:
    assert check_sender(sender) == expected


@pytest.mark.parametrize(
    "sender", ["", "My Brand", "TwelveLetter", "Brand!", "Brändi", "1234567890123456", "+", 614]
)
def test_invalid_senders(sender: object) -> None:
    with pytest.raises(InvalidRequestError):
        check_sender(sender)


@pytest.mark.parametrize(
    "url", ["https://example.com/dlr?x=1", "http://127.0.0.1:8080/cb", "HTTPS://EXAMPLE.COM"]
)
def test_valid_callback_urls(url: str) -> None:
    assert check_url("dlr_callback", url) == url


@pytest.mark.parametrize(
    "url",
    [
        "",
        "example.com",
        "ftp://example.com",
        "http://",
        "https://exa mple.com",
        "javascript:alert(1)",
        "http://[::1",
    ],
)
def test_invalid_callback_urls(url: str) -> None:
    with pytest.raises(InvalidRequestError):
        check_url("dlr_callback", url)


def test_email_plausibility() -> None:
    assert check_email("replies_to_email", "ops@example.com") == "ops@example.com"
    with pytest.raises(InvalidRequestError):
        check_email("replies_to_email", "ops@example")


ARABIC_INDIC = "".join(chr(0x0660 + int(d)) for d in "61400000001")
FULLWIDTH = "".join(chr(0xFF10 + int(d)) for d in "61400000001")


@pytest.mark.parametrize("value", [ARABIC_INDIC, FULLWIDTH])
def test_numbers_in_other_scripts_digits_are_refused(value: str) -> None:
    with pytest.raises(InvalidRequestError):
        normalise_number("to", value)
    with pytest.raises(InvalidRequestError):
        check_sender(value)
