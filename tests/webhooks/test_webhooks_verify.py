"""Callback authentication: the signature header from the raw query, and signed callback URLs."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from support import Recorder

from smsapi_async import InvalidRequestError
from smsapi_async.testing import sandbox_client
from smsapi_async.webhooks import (
    SIGNATURE_HEADER,
    DeliveryReport,
    parse_callback,
    sign_callback,
    sign_callback_url,
    verify_callback_url,
    verify_signature,
)

SECRET = "sandbox-secret"
DLR = [
    ("message_id", "331694668"),
    ("mobile", "61400000001"),
    ("datetime", "2020-05-16 12:10:00"),
    ("status", "delivered"),
    ("user_id", "123456"),
]


def raw(pairs: list[tuple[str, str]]) -> str:
    return urlencode(pairs, quote_via=quote)


def test_sign_then_verify_from_the_raw_query_in_every_form() -> None:
    signature = sign_callback(DLR, SECRET)
    assert len(signature) == 64
    assert sign_callback(dict(DLR), SECRET) == sign_callback(raw(DLR), SECRET) == signature
    for query in (raw(DLR), raw(DLR).encode(), "?" + raw(DLR), DLR):
        assert verify_signature(query, signature, SECRET)
    assert verify_signature(raw(DLR), signature.upper(), SECRET)
    assert verify_signature(raw(DLR), f"  {signature}\n", SECRET)
    assert verify_signature(raw(DLR), signature.encode(), SECRET)


def test_the_signature_is_the_documented_hmac_of_php_json() -> None:
    text = '{"message_id":"331694668","mobile":"61400000001","datetime":"2020-05-16 12:10:00",'
    text += '"status":"delivered","user_id":"123456"}'
    expected = hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()
    assert sign_callback(DLR, SECRET) == expected


@pytest.mark.parametrize("signature", [None, "", "   ", "0" * 64, "zz", "é" * 64, b"\xff" * 64])
def test_missing_or_wrong_signatures_fail(signature: Any) -> None:
    assert verify_signature(raw(DLR), signature, SECRET) is False


def test_wrong_secret_fails_and_an_empty_secret_is_an_error() -> None:
    signature = sign_callback(DLR, SECRET)
    assert not verify_signature(raw(DLR), signature, "other-secret")
    with pytest.raises(InvalidRequestError):
        verify_signature(raw(DLR), signature, "")
    with pytest.raises(InvalidRequestError):
        sign_callback(DLR, None)  # type: ignore[arg-type]


def test_a_framework_dict_is_refused_because_order_matters() -> None:
    with pytest.raises(TypeError, match="raw query"):
        verify_signature(dict(DLR), sign_callback(DLR, SECRET), SECRET)  # type: ignore[arg-type]


def test_reordering_the_parameters_breaks_the_signature() -> None:
    signature = sign_callback(DLR, SECRET)
    assert not verify_signature(raw(list(reversed(DLR))), signature, SECRET)


def test_the_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    verify_signature(raw(DLR), "0" * 64, SECRET)
    assert calls


keys = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
values = st.text(st.characters(blacklist_categories=["Cs"]), max_size=30)
param_lists = st.lists(st.tuples(keys, values), min_size=1, max_size=8, unique_by=lambda pair: pair[0])


@settings(max_examples=300, deadline=None)
@given(pairs=param_lists, data=st.data())
def test_any_change_to_a_signed_query_fails_verification(pairs: list[tuple[str, str]], data: Any) -> None:
    signature = sign_callback(pairs, SECRET)
    assert verify_signature(raw(pairs), signature, SECRET)
    changed = list(pairs)
    how = data.draw(st.sampled_from(["value", "drop", "add", "swap", "rename"]))
    i = data.draw(st.integers(0, len(pairs) - 1))
    if how == "value":
        new = data.draw(values)
        assume(new != pairs[i][1])
        changed[i] = (pairs[i][0], new)
    elif how == "drop":
        del changed[i]
    elif how == "add":
        key = data.draw(keys)
        assume(key not in dict(pairs))
        changed.insert(data.draw(st.integers(0, len(pairs))), (key, data.draw(values)))
    elif how == "swap":
        assume(len(pairs) > 1)
        j = (i + 1) % len(pairs)
        changed[i], changed[j] = changed[j], changed[i]
    else:
        key = data.draw(keys)
        assume(key not in dict(pairs))
        changed[i] = (key, pairs[i][1])
    assert not verify_signature(raw(changed), signature, SECRET)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200)), st.text(max_size=70))
def test_verify_never_raises_on_hostile_input(query: bytes | str, signature: str) -> None:
    assert verify_signature(query, signature, SECRET) in (True, False)
    assert verify_callback_url(query, SECRET) in (True, False)


def test_hostile_nesting_is_dropped_as_php_does_instead_of_recursing() -> None:
    deep = "a" + "%5B%5D" * 3000 + "=1&b=2"  # PHP drops names nested over 64 levels
    assert verify_signature(deep, sign_callback([("b", "2")], SECRET), SECRET)
    limit = [("a" + "[x]" * 64, "1"), ("b", "2")]
    assert sign_callback(limit, SECRET) != sign_callback([("b", "2")], SECRET)  # 64 levels are kept
    over = [("a", "0"), ("a" + "[x]" * 65, "1"), ("b", "2")]
    assert sign_callback(over, SECRET) == sign_callback([("b", "2")], SECRET)  # and "a" goes too


# --- signed callback URLs ---------------------------------------------------------------------------

NOW = 1_700_000_000.0


def appended(url: str, params: list[tuple[str, str]]) -> str:
    """The query the platform calls: the URL's own query with the event's parameters appended."""
    return urlsplit(url).query + "&" + raw(params)


def test_a_signed_url_verifies_with_the_platform_parameters_appended() -> None:
    url = sign_callback_url("https://shop.example.com/hooks/dlr?order=123", SECRET, ttl=3600, now=NOW)
    assert url.startswith(
        "https://shop.example.com/hooks/dlr?order=123&smsapi_expires=1700003600&smsapi_token="
    )
    query = appended(url, DLR)
    assert verify_callback_url(query, SECRET, now=NOW)
    assert verify_callback_url(query, SECRET, now=NOW + 3600)
    assert not verify_callback_url(query, SECRET, now=NOW + 3601)  # expired
    assert not verify_callback_url(query, "other-secret", now=NOW)
    assert parse_callback(query).extra == {"order": "123"}


@pytest.mark.parametrize(
    "tamper",
    [
        lambda q: q.replace("order=123", "order=124"),
        lambda q: q.replace("smsapi_expires=1700003600", "smsapi_expires=1900003600"),
        lambda q: q.replace("order=123&", ""),
        lambda q: "admin=1&" + q,
        lambda q: q.replace("smsapi_token=", "smsapi_token=0"),
        lambda q: q + "&smsapi_token=abc",
        lambda q: q.split("&smsapi_token")[0] + "&x=1&smsapi_token" + q.split("&smsapi_token")[1],
        lambda q: q.split("&smsapi_token")[0],
    ],
)
def test_a_tampered_signed_url_fails(tamper: Any) -> None:
    url = sign_callback_url("https://shop.example.com/hooks/dlr?order=123", SECRET, ttl=3600, now=NOW)
    assert not verify_callback_url(tamper(appended(url, DLR)), SECRET, now=NOW)


def test_signing_again_replaces_the_token() -> None:
    once = sign_callback_url("https://x.example.com/cb", SECRET, ttl=60, now=NOW)
    twice = sign_callback_url(once, SECRET, ttl=120, now=NOW)
    assert twice.count("smsapi_token=") == 1
    assert "smsapi_expires=1700000120" in twice


@pytest.mark.parametrize(
    ("base", "ttl"),
    [
        ("ftp://x.example.com/cb", 60),
        ("/relative/cb", 60),
        ("https://x.example.com/cb#frag", 60),
        ("https://x.example.com/cb", 0),
        ("https://x.example.com/cb", -5),
        ("https://x.example.com/cb", float("nan")),
        ("https://x.example.com/cb", True),
    ],
)
def test_bad_signed_url_arguments_are_refused(base: str, ttl: Any) -> None:
    with pytest.raises(InvalidRequestError):
        sign_callback_url(base, SECRET, ttl=ttl)


@pytest.mark.anyio
async def test_the_client_signs_urls_without_showing_its_secret() -> None:
    recorder = Recorder(httpx.Response(200))
    seen = recorder.requests
    async with sandbox_client(callback_transport=httpx.MockTransport(recorder)) as sms:
        client = sms.client
        url = client.callback_url("https://shop.example.com/dlr?order=9")
        assert SECRET not in url
        assert SECRET not in repr(client)
        await client.sms.send(message="Hi", to=["61400000001"], dlr_callback=url)
        await sms.advance(5)
    (request,) = seen
    query = request.url.query
    assert verify_callback_url(query, SECRET)
    # the sandbox signs every parameter of the URL, its own included
    assert verify_signature(query, request.headers[SIGNATURE_HEADER], SECRET)
    event = parse_callback(query)
    assert isinstance(event, DeliveryReport)
    assert event.extra == {"order": "9"}


@pytest.mark.anyio
async def test_every_sandbox_callback_signature_verifies_from_the_raw_query() -> None:
    recorder = Recorder(httpx.Response(200))
    seen = recorder.requests
    async with sandbox_client(callback_transport=httpx.MockTransport(recorder)) as sms:
        url = "https://hooks.example.com/cb?a=1&a=2&b=%2F%C3%A9"
        await sms.client.sms.send(
            message="Grüße / 你好 😀", to=["61400000001", "61400000008"], dlr_callback=url, reply_callback=url
        )
        await sms.advance(5)
        sms.inject_reply("61400000001", "Merci / 😀 & = + %")
        await sms.advance(1)
    assert len(seen) == 3
    for request in seen:
        signature = request.headers[SIGNATURE_HEADER]
        assert verify_signature(request.url.query, signature, SECRET)
        assert not verify_signature(request.url.query, signature, "wrong")
