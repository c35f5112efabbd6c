"""No input makes the sandbox answer 500: every number it reads is finite and in range or gets the
documented error, and what it keeps (request bodies, the request log) is bounded."""

from __future__ import annotations

import json

import httpx
import pytest

from smsapi_async.sandbox import Sandbox
from smsapi_async.sandbox.handlers import HANDLERS

AUTH = ("sandbox-key", "sandbox-secret")
HOSTILE_NUMBERS = ["nan", "NaN", "inf", "-inf", "1e309", "-1e309", "999999999999999999",
                   "-999999999999999999", "1e18", "0x10", "", " ", "1_000"]  # fmt: skip
NUMERIC_PARAMS = ["page", "max", "message_id", "list_id", "client_id", "id", "validity", "max_sms",
                  "sms_margin", "number_margin", "fixed_top_up_amount", "keyword_id", "send_at", "start",
                  "end"]  # fmt: skip
REQUIRED = {"message": "hi", "to": "61491570151", "msisdn": "61491570151", "mobile": "61491570151",
            "name": "N", "email": "a@b.example", "password": "pw", "keyword": "JOIN", "number": "61400000000",
            "countrycode": "AU", "file_url": "data:text/csv,61491570151"}  # fmt: skip


@pytest.mark.anyio
async def test_every_call_with_every_hostile_number_gets_an_answer_never_a_500(
    sandbox_http: tuple[Sandbox, httpx.AsyncClient],
) -> None:
    _, c = sandbox_http
    for call in sorted(HANDLERS):
        for name in NUMERIC_PARAMS:
            for value in HOSTILE_NUMBERS:
                answer = await c.post(f"/{call}.json", data={**REQUIRED, name: value})
                assert answer.status_code in (200, 400), (call, name, value, answer.text)
                assert "error" in answer.json()
    balance = await c.post("/get-balance.json")
    assert balance.status_code == 200
    clients = await c.post("/get-clients.json")
    assert clients.status_code == 200, clients.text


@pytest.mark.anyio
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e309"])
async def test_a_non_finite_margin_is_refused_and_nothing_is_stored(
    sandbox_http: tuple[Sandbox, httpx.AsyncClient], value: str
) -> None:
    sandbox, c = sandbox_http
    for name in ("sms_margin", "number_margin", "fixed_top_up_amount"):
        answer = await c.post(
            "/add-client.json",
            data={
                "name": f"C {name}",
                "email": f"{name}@x.example",
                "password": "pw",
                "msisdn": "61491570151",
                name: value,
            },
        )
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "FIELD_INVALID")
    assert len(sandbox.state.accounts) == 1
    assert (await c.post("/get-clients.json")).status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/_sandbox/credit", {"amount": "NaN"}),
        ("/_sandbox/credit", {"amount": "inf"}),
        ("/_sandbox/credit", {"amount": "1e400"}),
        ("/_sandbox/credit", {"amount": 1e300}),
        ("/_sandbox/link-hit", {"message_id": "nan", "mobile": "61491570151"}),
        ("/_sandbox/link-hit", {"message_id": "1e400", "mobile": "61491570151"}),
        ("/_sandbox/list-automation", {"list_id": "nan", "forward_url": ""}),
        ("/_sandbox/inbound", {"mobile": "61491570151", "message": "hi", "message_id": "nan"}),
        ("/_sandbox/inbound", {"mobile": "61491570151", "message": "hi", "message_id": "abc"}),
        ("/_sandbox/inbound", {"mobile": ["x"], "message": {"a": 1}}),
        ("/_sandbox/advance", {"seconds": "nan"}),
    ],
)
async def test_admin_numbers_must_be_finite(
    sandbox_http: tuple[Sandbox, httpx.AsyncClient], path: str, body: dict[str, object]
) -> None:
    sandbox, c = sandbox_http
    answer = await c.post(path, json=body)
    assert answer.status_code in (400, 404), answer.text
    assert "error" in answer.json()
    assert (await c.post("/get-balance.json")).status_code == 200
    assert sandbox.account().balance == 1000.0


@pytest.mark.anyio
@pytest.mark.parametrize("limit", ["inf", "nan", "-inf", "1e400", "abc"])
async def test_the_request_log_limit_must_be_a_number(
    sandbox_http: tuple[Sandbox, httpx.AsyncClient], limit: str
) -> None:
    _, c = sandbox_http
    answer = await c.get("/_sandbox/requests", params={"limit": limit})
    assert answer.status_code == 400


@pytest.mark.anyio
async def test_deeply_nested_json_is_refused(sandbox_http: tuple[Sandbox, httpx.AsyncClient]) -> None:
    _, c = sandbox_http
    nested = b"[" * 100_000 + b"]" * 100_000
    answer = await c.post("/_sandbox/inbound", content=nested, headers={"content-type": "application/json"})
    assert answer.status_code in (400, 413)


@pytest.mark.anyio
async def test_admin_bodies_are_bounded(sandbox_http: tuple[Sandbox, httpx.AsyncClient]) -> None:
    _, c = sandbox_http
    huge = json.dumps({"mobile": "61491570151", "message": "x" * 3_000_000}).encode()
    answer = await c.post("/_sandbox/inbound", content=huge, headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert "error" in answer.json()


@pytest.mark.anyio
async def test_a_request_with_many_parameters_is_logged_within_bounds(
    sandbox_http: tuple[Sandbox, httpx.AsyncClient],
) -> None:
    sandbox, c = sandbox_http
    body = "&".join(f"p{i}={'v' * 10}" for i in range(50_000))[:900_000]
    await c.post(
        "/get-balance.json",
        content=body.encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    entry = list(sandbox.requests)[-1]
    assert len(json.dumps(entry)) < 20_000
