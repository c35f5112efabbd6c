"""Finding 7 of the probe: a full card number in the request log and the inbox's Requests page,
``--rate-limit 0.5`` enforcing 1 call/s and ``2.9`` enforcing 2/s without saying so, and a PUT
answered with an API 404 where the live front end (nginx) answered 411 Length Required."""

from __future__ import annotations

import httpx
import pytest

from smsapi_async.sandbox import Sandbox, SandboxConfig, VirtualClock
from smsapi_async.sandbox.__main__ import main as sandbox_main

pytestmark = pytest.mark.anyio
AUTH = ("sandbox-key", "sandbox-secret")
CARD = "4111111111111111"


async def test_7_a_card_number_is_kept_out_of_the_request_log_and_the_requests_page() -> None:
    sandbox = Sandbox(SandboxConfig(rate_limit=0))
    transport = httpx.ASGITransport(sandbox.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", auth=AUTH) as http:
        await http.post(
            "/add-card.json",
            data={
                "name": "A Person",
                "number": CARD,
                "expiry_month": "12",
                "expiry_year": "2030",
                "cvv": "123",
            },
        )
        await http.post("/get-number.json", data={"number": "61400000000"})  # an ordinary number stays
        page = await http.get("/_sandbox/ui/requests")
        logged = await http.get("/_sandbox/requests")
    card_entry, number_entry = (e for e in sandbox.requests if e["call"] in ("add-card", "get-number"))
    assert card_entry["params"] == {
        "name": "A Person",
        "number": "[redacted]",
        "expiry_month": "[redacted]",
        "expiry_year": "[redacted]",
        "cvv": "[redacted]",
    }
    assert number_entry["params"] == {"number": "61400000000"}
    assert page.status_code == 200
    assert CARD not in page.text
    assert CARD not in logged.text
    assert "61400000000" in page.text


@pytest.mark.parametrize("rate", [2.9, 1.5, -1, float("nan"), float("inf")])
async def test_7_a_rate_the_sandbox_cannot_enforce_exactly_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="rate_limit must be"):
        SandboxConfig(rate_limit=rate)


@pytest.mark.parametrize("value", ["2.9", "1.5", "-1", "nan", "two"])
async def test_7_the_command_line_says_which_rates_it_takes(
    value: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def serve(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"--rate-limit {value} was taken: the sandbox started")

    monkeypatch.setattr("smsapi_async.sandbox.__main__.uvicorn.run", serve)
    with pytest.raises(SystemExit) as exit_info:
        sandbox_main(["--rate-limit", value])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "--rate-limit" in error
    assert repr(value) in error
    if value in ("2.9", "1.5"):
        assert "whole number of calls per second, or below 1 (0.5 = one call every 2 s)" in error


@pytest.mark.parametrize(("rate", "accepted"), [(0.5, [0.0, 2.0, 4.0]), (0.25, [0.0, 4.0]), (3, None)])
async def test_7_rates_below_one_space_calls_out(rate: float, accepted: list[float] | None) -> None:
    """One call per ``1 / rate`` seconds, checked on a virtual clock every 0.5 s for 5 s."""
    clock = VirtualClock()
    sandbox = Sandbox(SandboxConfig(rate_limit=rate), clock=clock)
    transport = httpx.ASGITransport(sandbox.app)
    times = []
    async with httpx.AsyncClient(transport=transport, base_url="http://s", auth=AUTH) as http:
        for step in range(11):
            answer = await http.post("/get-balance.json")
            if answer.status_code == 200:
                times.append(step * 0.5)
            clock.advance(0.5)
    if accepted is not None:
        assert times == accepted
    else:  # a whole rate: every 0.5 s is at most 1 per 0.5 s, all accepted
        assert len(times) == 11


async def test_7_a_bodiless_put_gets_the_front_ends_411_page() -> None:
    sandbox = Sandbox(SandboxConfig(rate_limit=0))
    transport = httpx.ASGITransport(sandbox.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://s", auth=AUTH) as http:
        request = http.build_request("PUT", "/edit-client.json", params={"client_id": "2024"})
        del request.headers["content-length"]  # as the 2015 Ruby client sent it: no length at all
        bodiless = await http.send(request)
        with_body = await http.put("/edit-client.json", data={"client_id": "2024"})
        delete = await http.delete("/edit-client.json")
    assert bodiless.status_code == 411
    assert bodiless.headers["content-type"].startswith("text/html")
    assert "<title>411 Length Required</title>" in bodiless.text
    assert with_body.status_code == 404  # the API's own answer to a method it does not serve
    assert with_body.json()["error"]["code"] == "NOT_IMPLEMENTED"
    assert delete.status_code == 404
