"""analyze(): GSM 03.38 part counting, what forces UCS-2, placeholders, cost; send(max_parts=...)."""

from __future__ import annotations

import math
from decimal import Decimal

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsapi_async import (
    MAX_PARTS,
    AsyncSmsClient,
    InvalidRequestError,
    analyze,
    count_parts,
    render_placeholders,
)

# GSM 03.38 default alphabet, written out by table position (0x00-0x7F) independently of the library;
# 0x1B is the escape to the extension table, which holds the ten characters below.
_ROWS = (
    "@£$¥èéùìòÇ\nØø\rÅå",
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ",
    " !\"#¤%&'()*+,-./",
    "0123456789:;<=>?",
    "¡ABCDEFGHIJKLMNO",
    "PQRSTUVWXYZÄÖÑÜ§",
    "¿abcdefghijklmno",
    "pqrstuvwxyzäöñüà",
)
GSM_BASIC = "".join(_ROWS).replace("\x1b", "")
GSM_EXTENSION = "\f^{}\\[~]|€"

gsm_text = st.text(alphabet=GSM_BASIC + GSM_EXTENSION, max_size=700)
basic_text = st.text(alphabet=GSM_BASIC, max_size=700)
non_gsm = st.characters(codec="utf-8").filter(lambda c: c not in GSM_BASIC + GSM_EXTENSION)


def test_the_written_out_table_has_the_standard_sizes() -> None:
    assert len(_ROWS) == 8
    assert all(len(row) == 16 for row in _ROWS)
    assert len(GSM_BASIC) == 127
    assert len(set(GSM_BASIC)) == 127
    assert len(GSM_EXTENSION) == 10


def reference_parts(units: list[int], single: int, multi: int) -> int:
    """Parts by filling each part in turn, never splitting a 2-unit character."""
    total = sum(units)
    if total == 0:
        return 0
    if total <= single:
        return 1
    parts, used = 1, 0
    for size in units:
        if used + size > multi:
            parts, used = parts + 1, 0
        used += size
    return parts


@given(gsm_text)
def test_gsm7_text_counts_septets_with_extension_characters_double(text: str) -> None:
    a = analyze(text)
    assert a.encoding == "GSM-7"
    assert a.is_gsm7
    assert a.forcing == ()
    assert a.units == len(text) + sum(text.count(c) for c in GSM_EXTENSION)
    assert a.parts == reference_parts([2 if c in GSM_EXTENSION else 1 for c in text], 160, 153)
    assert a.characters == len(text)


@given(basic_text)
def test_basic_table_only_text_is_ceil_of_160_or_153(text: str) -> None:
    n = len(text)
    expected = 0 if n == 0 else 1 if n <= 160 else math.ceil(n / 153)
    assert analyze(text).parts == expected


@given(gsm_text, non_gsm, st.integers(min_value=0, max_value=700))
def test_one_character_outside_gsm7_makes_it_ucs2_in_utf16_units(text: str, char: str, at: int) -> None:
    at = min(at, len(text))
    message = text[:at] + char + text[at:]
    a = analyze(message)
    assert a.encoding == "UCS-2"
    assert a.units == len(message.encode("utf-16-le")) // 2
    sizes = [2 if ord(c) > 0xFFFF else 1 for c in message]
    assert a.parts == reference_parts(sizes, 70, 67)
    assert [f.character for f in a.forcing] == list(
        dict.fromkeys(c for c in message if c not in GSM_BASIC + GSM_EXTENSION)
    )
    first = a.forcing[0]
    assert message[first.first_index] == first.character
    assert first.count == message.count(first.character)


@given(st.text(max_size=400))
def test_analysis_agrees_with_count_parts_and_the_part_capacity(text: str) -> None:
    a = analyze(text)
    assert (a.encoding, a.parts) == tuple(count_parts(text))
    if a.parts > 1:
        per_part = 153 if a.is_gsm7 else 67
        # each boundary may waste one unit (a pair is never split), never more
        assert (a.parts - 1) * (per_part - 1) < a.units <= a.parts * per_part == a.unit_limit
    assert a.fits == (len(text) <= 612 and a.parts <= MAX_PARTS)


@given(
    st.text(alphabet=GSM_BASIC, max_size=200), st.sampled_from("\u2019\u201c\u201d\u2013—…\u00a0\u200bçáíóú")
)
def test_suggested_replacements_bring_the_text_back_to_gsm7(text: str, char: str) -> None:
    a = analyze(text + char + text)
    assert a.encoding == "UCS-2"
    assert a.suggestion is not None
    assert analyze(a.suggestion).encoding == "GSM-7"
    assert a.suggestion_parts == count_parts(a.suggestion).parts


def test_known_boundaries() -> None:
    assert analyze("a" * 160).parts == 1
    assert analyze("a" * 161).parts == 2
    assert analyze("a" * 306).parts == 2
    assert analyze("a" * 307).parts == 3
    assert analyze("a" * 612).parts == 4
    assert analyze("a" * 612).fits
    assert not analyze("a" * 613).fits
    assert analyze("€" * 80).units == 160
    assert analyze("€" * 80).parts == 1
    assert analyze("€" * 81).parts == 2
    # 152 septets then an escape pair: the pair is not split, so part one carries 152
    assert analyze("a" * 152 + "€" + "a" * 152).parts == 3
    assert analyze("ж" * 70).parts == 1
    assert analyze("ж" * 71).parts == 2
    assert analyze("😀" * 35).units == 70
    assert analyze("😀" * 35).parts == 1
    assert analyze("😀" * 36).parts == 2
    assert analyze("ж" * 300).parts == 5
    assert not analyze("ж" * 300).fits
    assert analyze("").parts == 0


def test_smart_punctuation_is_explained_with_replacements() -> None:
    a = analyze("Don\u2019t miss \u201cSale\u201d \u2013 today\u00a0only…")
    assert a.encoding == "UCS-2"
    assert {f.character: f.replacement for f in a.forcing} == {
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u00a0": " ",
        "…": "...",
    }
    assert a.forcing[0].codepoint == "U+2019"
    assert a.forcing[0].name == "RIGHT SINGLE QUOTATION MARK"
    assert a.suggestion == 'Don\'t miss "Sale" - today only...'
    assert any("UCS-2" in problem for problem in a.problems)


def test_an_emoji_has_no_replacement_and_no_suggestion() -> None:
    a = analyze("Party time 🎉 \u2013 yes")
    assert [f.replacement for f in a.forcing] == [None, "-"]
    assert a.suggestion is None
    assert a.suggestion_parts is None


def test_placeholders_builtin_and_custom_fields() -> None:
    a = analyze(
        "Hi [FirstName] [firstname], your [Store_Name] code: [tracked-link] Stop: [unsub-reply-link] [a b]"
    )
    assert a.placeholders == ("firstname", "store_name", "tracked-link", "unsub-reply-link", "a b")
    assert a.custom_fields == ("store_name", "a b")
    assert analyze("[] [1abc] no placeholders").placeholders == ()


def test_cost_per_recipient() -> None:
    assert analyze("a" * 161, price_per_part="0.087").cost_per_recipient == Decimal("0.174")
    assert analyze("hi", price_per_part=0.1).cost_per_recipient == Decimal("0.1")
    assert analyze("hi", price_per_part=Decimal(0)).cost_per_recipient == 0
    assert analyze("hi").cost_per_recipient is None


@pytest.mark.parametrize("price", [-1, "abc", float("nan"), float("inf"), True, [1]])
def test_bad_prices_are_refused(price: object) -> None:
    with pytest.raises(InvalidRequestError, match="price_per_part"):
        analyze("hi", price_per_part=price)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [None, 5, b"bytes", "lone \ud800 surrogate"])
def test_bad_text_is_refused(text: object) -> None:
    with pytest.raises(InvalidRequestError):
        analyze(text)  # type: ignore[arg-type]


def test_problems_name_length_and_parts() -> None:
    assert analyze("hello").problems == ()
    assert analyze("   ").problems == ("the message is empty",)
    problems = analyze("a" * 700).problems
    assert any("700 characters" in p for p in problems)
    assert any("5 parts" in p for p in problems)


def test_render_placeholders_fills_known_names_any_case_and_leaves_the_rest() -> None:
    out = render_placeholders("Hi [FIRSTNAME] [lastname]: [tracked-link]", {"firstname": "Ann"})
    assert out == "Hi Ann [lastname]: [tracked-link]"
    assert render_placeholders("[x]", {"X": "\\1 $0"}) == "\\1 $0"


# send(max_parts=...)


def _client(seen: list[httpx.Request]) -> AsyncSmsClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"message_id": 1, "error": {"code": "SUCCESS"}})

    return AsyncSmsClient("key", "secret", transport=httpx.MockTransport(handler), rate_limit=None)


@pytest.mark.anyio
async def test_send_refuses_a_message_over_max_parts_before_any_call() -> None:
    seen: list[httpx.Request] = []
    async with _client(seen) as client:
        with pytest.raises(InvalidRequestError, match="2 GSM-7 parts, more than max_parts=1"):
            await client.sms.send(message="a" * 161, to="61400000001", max_parts=1)
        with pytest.raises(InvalidRequestError, match=r"UCS-2.*outside GSM-7"):
            await client.sms.send(message="\u2019" * 71, to="61400000001", max_parts=1)
        assert seen == []
        await client.sms.send(message="a" * 160, to="61400000001", max_parts=1)
        await client.sms.send(message="a" * 161, to="61400000001")
    assert len(seen) == 2


@pytest.mark.anyio
@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
async def test_send_refuses_a_bad_max_parts(bad: object) -> None:
    seen: list[httpx.Request] = []
    async with _client(seen) as client:
        with pytest.raises(InvalidRequestError, match="max_parts"):
            await client.sms.send(message="hi", to="61400000001", max_parts=bad)  # type: ignore[arg-type]
    assert seen == []
