"""Callback signatures: PHP parse_str + json_encode, HMAC-SHA256 with the API secret."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsapi_async._signature import (
    callback_signature,
    php_json_encode,
    php_parse_pairs,
    verify_callback_signature,
)

DLR = [
    ("message_id", "331694668"),
    ("mobile", "61400000001"),
    ("datetime", "2020-05-16 12:10:00"),
    ("status", "delivered"),
    ("user_id", "123456"),
]


def _encode(pairs: list[tuple[str, str]]) -> str:
    return php_json_encode(php_parse_pairs(pairs))


def test_json_is_compact_and_keeps_the_order_received() -> None:
    assert _encode(DLR) == (
        '{"message_id":"331694668","mobile":"61400000001","datetime":"2020-05-16 12:10:00",'
        '"status":"delivered","user_id":"123456"}'
    )


def test_slashes_and_non_ascii_are_escaped_like_php() -> None:
    pairs = [("url", "http://x.io/a"), ("text", 'é "q" \\ 😀\n')]
    assert _encode(pairs) == ('{"url":"http:\\/\\/x.io\\/a","text":"\\u00e9 \\"q\\" \\\\ \\ud83d\\ude00\\n"}')


def test_parse_str_mangles_dots_and_spaces_and_builds_arrays() -> None:
    pairs = [("a.b", "1"), (" c d", "2"), ("x[]", "3"), ("x[]", "4"), ("m[k]", "5"), ("a.b", "6")]
    assert _encode(pairs) == '{"a_b":"6","c_d":"2","x":["3","4"],"m":{"k":"5"}}'


def test_sequential_integer_keys_encode_as_a_list_and_nothing_as_empty_array() -> None:
    assert _encode([("0", "a"), ("1", "b")]) == '["a","b"]'
    assert _encode([]) == "[]"


def test_signature_is_hmac_sha256_of_the_php_json() -> None:
    expected = hmac.new(b"secret", _encode(DLR).encode(), hashlib.sha256).hexdigest()
    assert callback_signature(DLR, "secret") == expected


def test_verify_accepts_a_raw_query_string_and_pairs() -> None:
    signature = callback_signature(DLR, "secret")
    query = urlencode(DLR, quote_via=quote)
    assert verify_callback_signature(query, signature, "secret")
    assert verify_callback_signature("?" + query.replace("%20", "+"), signature, "secret")
    assert verify_callback_signature(query.encode(), signature.upper(), "secret")
    assert verify_callback_signature(DLR, signature, "secret")


def test_verify_rejects_wrong_secret_reordering_and_tampering() -> None:
    signature = callback_signature(DLR, "secret")
    assert not verify_callback_signature(DLR, signature, "other")
    assert not verify_callback_signature(list(reversed(DLR)), signature, "secret")
    assert not verify_callback_signature([*DLR[:-1], ("user_id", "1")], signature, "secret")
    assert not verify_callback_signature(DLR, "not-hex", "secret")


def test_invalid_utf8_is_signed_as_the_empty_string_like_php() -> None:
    empty = hmac.new(b"s", b"", hashlib.sha256).hexdigest()
    assert verify_callback_signature("a=%FF", empty, "s")


@given(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=20)), max_size=6), st.text())
def test_round_trip_through_the_query_string(pairs: list[tuple[str, str]], secret: str) -> None:
    clean = [(k, v) for k, v in pairs if k.strip() and "[" not in k and "]" not in k]
    signature = callback_signature(clean, secret)
    assert verify_callback_signature(urlencode(clean, quote_via=quote), signature, secret)


@pytest.mark.parametrize(
    ("text", "php"),
    [
        ("a/b", '"a\\/b"'),
        ("\x7f", '"\x7f"'),  # PHP leaves DEL alone; Python's json would write \u007f
        ("é", '"\\u00e9"'),
        ("\U0001f600", '"\\ud83d\\ude00"'),
        ('"\\\n\t\x01', '"\\"\\\\\\n\\t\\u0001"'),
        ("\\u007f", '"\\\\u007f"'),
    ],
)
def test_strings_are_encoded_exactly_as_php_json_encode_does(text: str, php: str) -> None:
    assert php_json_encode(text) == php
