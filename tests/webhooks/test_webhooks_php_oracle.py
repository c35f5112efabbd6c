"""The callback signature against the real thing: PHP's own ``parse_str`` + ``json_encode`` + ``hash_hmac``.

The platform signs ``json_encode`` of what ``parse_str`` makes of the query. A PHP interpreter
(Debian's ``php-cli``, installed by ``.ci/run``) is the oracle: for generated queries, odd names
included (NUL, brackets, dots, spaces, ``-0``, invalid escapes and UTF-8), our signature and the
JSON text it covers must be PHP's, byte for byte. Without ``php`` the tests skip, except in CI.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from smsapi_async._signature import (
    _signed_text,
    callback_signature,
    php_query_pairs,
    verify_callback_signature,
)
from smsapi_async.webhooks import sign_callback, verify_signature

SECRET = "oracle-secret"

_ORACLE = r"""
$secret = $argv[1];
while (($line = fgets(STDIN)) !== false) {
    $out = [];
    parse_str(base64_decode(trim($line)), $out);
    $json = json_encode($out);
    if ($json === false) { $json = ""; }
    echo hash_hmac('sha256', $json, $secret), "\t", base64_encode($json), "\n";
}
"""


class Php:
    """One long-lived ``php`` process answering one query per line."""

    def __init__(self, binary: str) -> None:
        self._process = subprocess.Popen(
            [binary, "-n", "-d", "max_input_vars=100000", "-r", _ORACLE, SECRET],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def sign(self, query: bytes) -> tuple[str, bytes]:
        """PHP's signature of ``query`` and the JSON text it signed."""
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.write(base64.b64encode(query) + b"\n")
        self._process.stdin.flush()
        signature, _, json_text = self._process.stdout.readline().rstrip(b"\n").partition(b"\t")
        return signature.decode(), base64.b64decode(json_text)

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=10)


@pytest.fixture(scope="module")
def php() -> Iterator[Php]:
    binary = shutil.which("php")
    if binary is None:
        message = "php is not installed (apt-get install -y php-cli)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; .ci/run must install it")
        pytest.skip(message)
    oracle = Php(binary)
    yield oracle
    oracle.close()


def ours(query: bytes) -> tuple[str, bytes]:
    pairs = php_query_pairs(query)
    return callback_signature(pairs, SECRET), _signed_text(pairs).encode("ascii")


# --- raw queries, built from the pieces PHP treats specially ---------------------------------------------

_NAME_PIECES = st.sampled_from(
    [
        "a", "b", "status", "message_id", "_", "x", "0", "1", "7", "-", "-0", "007", "9223372036854775807",
        "-9223372036854775808", "9223372036854775808", "[", "]", "[]", "[ ]", "][", ".", " ", "+", "%20",
        "%2E", "%5B", "%5D", "%00", "%zz", "%", "%C3", "%C3%A9", "%F0%9F%98%80", "%ED%A0%80", "é", "%26",
        "%3D", "[x]", "[0]", "[-1]", "[-0]", "[ x]", "[[", "]]", "[a.b]", "%5B%5D",
    ]
)  # fmt: skip
_VALUE_PIECES = st.sampled_from(
    [
        "", "delivered", "1", "%2F", "/", "%7F", "%00", "%0A", "%22", "%5C", "+", "%2B", "%C3%A9", "%C3",
        "%E2%80%8F", "%F0%9F%98%80", "%ED%A0%80", "%zz", "%", "=", "[", "]", "%3D", "%E2%82%AC",
    ]
)  # fmt: skip


@st.composite
def raw_queries(draw: st.DrawFn) -> bytes:
    pieces = []
    for _ in range(draw(st.integers(0, 8))):
        name = "".join(draw(st.lists(_NAME_PIECES, min_size=0, max_size=5)))
        if draw(st.booleans()):
            value = "".join(draw(st.lists(_VALUE_PIECES, max_size=4)))
            pieces.append(f"{name}={value}")
        else:
            pieces.append(name)  # no "=": an empty value
    separator = draw(st.sampled_from(["&", "&&"]))
    return separator.join(pieces).encode("utf-8")


FOUND = [
    b"a%00b=1",  # a NUL ends the name
    b"[abc=1",  # nothing before "[": dropped
    b"a[ ]=1&a[ ]=2",  # "[ ]" appends like "[]"
    b"-0=x&a[-0]=y&a[007]=z",  # not canonical integers: text keys
    b"a.b[c.d=1",  # an unmatched "[" is kept as "_", and the rest mangled
    b"a[b][c=1",  # ...but only at the first level
    b"a[-5]=1&a[]=2",  # appends go one past the largest integer key
    b"a[9223372036854775807]=1&a[]=2",  # no room left: dropped
    b"message_id=424242&status=hard-bounce&message.id=1001&%20status=delivered",
    b"a=%C3&a=1",  # the invalid value was replaced: the JSON is valid
    b"a=%C3",  # invalid UTF-8 left: json_encode fails and PHP signs ""
    b"x=1&x[]=2&y[a]=1&y=2",
    b"a=%zz&b=%&c=%4",  # a "%" that is not an escape stays
    b"0=a&1=b",  # a list
    b"1=a&0=b",  # not a list
]


@settings(max_examples=600)
@given(raw_queries())
@example(b"")
def test_the_signature_of_any_raw_query_is_phps(php: Php, query: bytes) -> None:
    for known in FOUND:
        assert ours(known) == php.sign(known), known
    assert ours(query) == php.sign(query), query
    signature, _ = php.sign(query)
    assert verify_callback_signature(query, signature, SECRET)
    assert verify_signature(query, signature, SECRET)


@settings(max_examples=300)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet=st.sampled_from("ab_.[] -0\x00é😀"), max_size=8),
            st.text(alphabet=st.characters(codec="utf-8"), max_size=8),
        ),
        max_size=6,
    )
)
def test_sign_callback_of_decoded_pairs_is_phps(php: Php, pairs: list[tuple[str, str]]) -> None:
    query = "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in pairs)
    expected, _ = php.sign(query.encode("ascii"))
    assert sign_callback(pairs, SECRET) == expected
    assert sign_callback(query, SECRET) == expected
