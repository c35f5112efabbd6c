"""JSON and XML bodies parse to one shape; hostile or broken bodies are typed errors, never hangs."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import EXAMPLES, example_bytes

from smsapi_async import ApiError, RecipientsError, ResponseParseError
from smsapi_async._exceptions import error_for_code
from smsapi_async._parsing import parse_body, raise_for_error

CAPTURED_XML = sorted(
    p.relative_to(EXAMPLES).as_posix()
    for folder in ("postman", "openapi")
    for p in (EXAMPLES / folder).glob("*.xml")
)
NOT_TWINS = {"postman/send-sms.xml"}  # recorded from a list send; its .json sibling sent to numbers
TWINS = [x for x in CAPTURED_XML if (EXAMPLES / x).with_suffix(".json").exists() and x not in NOT_TWINS]
WELL_FORMED_JSON = sorted(
    p.relative_to(EXAMPLES).as_posix()
    for folder in ("postman", "openapi", "captured-2015")
    for p in (EXAMPLES / folder).glob("*.json")
    if p.name != "page-block.json"  # a snippet of the docs, not a whole response
)


def as_xml_text(value: Any) -> Any:
    """What XML can carry of a JSON value: every scalar as text, every empty value as nothing."""
    if isinstance(value, dict):
        return {k: as_xml_text(v) for k, v in value.items()} or None
    if isinstance(value, list):
        return [as_xml_text(v) for v in value] or None
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse(relative: str, status: int = 200) -> dict[str, Any]:
    fmt = "xml" if relative.endswith(".xml") else "json"
    return parse_body(example_bytes(relative), fmt, status_code=status, call=Path(relative).stem)


def test_there_are_xml_examples_with_json_twins() -> None:
    assert len(CAPTURED_XML) >= 29
    assert len(TWINS) >= 25


@pytest.mark.parametrize("relative", CAPTURED_XML)
def test_every_captured_xml_example_parses_to_a_success(relative: str) -> None:
    data = parse(relative)
    raise_for_error(data, status_code=200, call="x")
    assert data["error"]["code"] == "SUCCESS"


@pytest.mark.parametrize("relative", TWINS)
def test_xml_gives_the_same_shape_as_its_json_twin(relative: str) -> None:
    xml = parse(relative)
    js = parse(str(Path(relative).with_suffix(".json")))
    xml["error"].pop("header", None)  # only the OpenAPI sample has <header> in its error block
    # twins were recorded minutes apart, so some values differ; shapes and keys must not
    assert shape(xml) == shape(as_xml_text(js))


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__


def test_xml_twin_values_match_where_the_recording_is_the_same() -> None:
    xml = parse("postman/get-sms-responses.xml")
    js = parse("postman/get-sms-responses.json")
    assert xml == as_xml_text(js)


@pytest.mark.parametrize("relative", WELL_FORMED_JSON)
def test_every_json_capture_parses(relative: str) -> None:
    data = parse(relative)
    assert isinstance(data["error"]["code"], str)


def test_xml_item_lists_scalars_and_empties() -> None:
    body = b"""<?xml version="1.0"?><response><list_ids><item>4213644</item><item>5</item></list_ids>
    <fields/><name>  A &amp; B  </name><one><item><id>1</id></item></one>
    <error><code>SUCCESS</code><description>OK</description></error></response>"""
    data = parse_body(body, "xml", status_code=200, call="x")
    assert data["list_ids"] == ["4213644", "5"]
    assert data["fields"] is None
    assert data["name"] == "A & B"
    assert data["one"] == [{"id": "1"}]


def test_repeated_elements_without_item_become_a_list() -> None:
    body = b"<response><clients><id>1</id></clients><clients><id>2</id></clients></response>"
    assert parse_body(body, "xml", status_code=200, call="x")["clients"] == [{"id": "1"}, {"id": "2"}]


HOSTILE_XML = {
    "billion laughs": b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
        <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
        <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
        <response><x>&lol3;</x></response>""",
    "external entity": b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
        <response><x>&xxe;</x></response>""",
    "external dtd": b"""<?xml version="1.0"?><!DOCTYPE response SYSTEM "http://example.com/evil.dtd">
        <response/>""",
    "truncated": b"<?xml version='1.0'?><response><balance>1</bal",
    "html page": example_bytes("captured-2015/edit-client.put-411.html"),
    "wrong root": b"<html><body>502 Bad Gateway</body></html>",
    "not xml": b"{'json': 'instead'}",
    "deep nesting": b"<response>" + b"<a>" * 200 + b"</a>" * 200 + b"</response>",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_XML))
def test_hostile_or_broken_xml_is_a_parse_error(name: str) -> None:
    with pytest.raises(ResponseParseError) as info:
        parse_body(HOSTILE_XML[name], "xml", status_code=200, call="get-balance")
    assert info.value.call == "get-balance"
    assert info.value.status_code == 200


@pytest.mark.parametrize(
    "relative", sorted(p.relative_to(EXAMPLES).as_posix() for p in (EXAMPLES / "legacy-docs").glob("*"))
)
def test_legacy_hand_written_samples_parse_or_fail_typed(relative: str) -> None:
    # several of these documentation samples are not valid JSON/XML: a typed error, never a crash
    try:
        data = parse(relative)
    except ResponseParseError as exc:
        error: ResponseParseError | None = exc
    else:
        error = None
        assert isinstance(data, dict)
    assert error is None or error.excerpt


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_the_json_parser(body: bytes) -> None:
    with contextlib.suppress(ResponseParseError):
        parse_body(body, "json", status_code=200, call="x")


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_the_xml_parser(body: bytes) -> None:
    with contextlib.suppress(ResponseParseError):
        parse_body(b"<response>" + body, "xml", status_code=200, call="x")


ERROR_EXAMPLES = {
    "captured-2015/get-sms.error-not-found.json": ("NotFoundError", 400),
    "captured-2015/cancel-sms.error-already-sent.json": ("AlreadySentError", 400),
    "captured-2015/send-sms.error-missing-to-and-list-id.json": ("InvalidFieldError", 400),
    "captured-2015/format-number.error-field-empty.json": ("InvalidFieldError", 400),
    "captured-2015/add-client.error-key-exists.json": ("KeyExistsError", 400),
    "captured-2015/lease-number.error-field-invalid.json": ("InvalidFieldError", 400),
    "postman/error-auth-failed.json": ("AuthenticationError", 401),
}


@pytest.mark.parametrize("relative", sorted(ERROR_EXAMPLES))
def test_error_examples_map_to_their_exception(relative: str) -> None:
    expected, status = ERROR_EXAMPLES[relative]
    data = parse(relative, status)
    with pytest.raises(ApiError) as info:
        raise_for_error(data, status_code=status, call="x")
    assert type(info.value).__name__ == expected
    assert info.value.code == data["error"]["code"]
    assert info.value.description == data["error"]["description"]


def test_unknown_codes_are_plain_api_errors_and_descriptions_may_be_objects() -> None:
    error = error_for_code("SOMETHING_NEW", "huh", 400, "send-sms")
    assert type(error) is ApiError
    detail = {"fails": ["61400"], "optouts": []}
    error = error_for_code("RECIPIENTS_ERROR", detail, 400, "send-sms")
    assert isinstance(error, RecipientsError)
    assert error.description == detail


def test_an_error_block_without_a_code_still_fails() -> None:
    with pytest.raises(ApiError) as info:
        raise_for_error({"error": {"description": "?"}}, status_code=500, call="x")
    assert info.value.code == "HTTP_500"
