"""Other sites cannot drive a served sandbox: DNS rebinding (a foreign ``Host``), cross-site form posts
and cross-site fetches to the admin endpoints are refused; binding beyond loopback warns."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from smsapi_async.sandbox import Sandbox, SandboxConfig, serve_in_thread
from smsapi_async.sandbox.__main__ import main

AUTH = ("sandbox-key", "sandbox-secret")


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Sandbox, httpx.Client]]:
    sandbox = Sandbox(SandboxConfig(rate_limit=0))
    with serve_in_thread(sandbox) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield sandbox, client


def _port(client: httpx.Client) -> int:
    port = client.base_url.port
    assert port is not None
    return port


@pytest.mark.parametrize("path", ["/_sandbox/state", "/_sandbox/requests", "/get-balance.json"])
def test_a_foreign_host_is_refused_dns_rebinding(served: tuple[Sandbox, httpx.Client], path: str) -> None:
    _, client = served
    answer = client.get(path, headers={"Host": f"attacker.example:{_port(client)}"}, auth=AUTH)
    assert answer.status_code == 421
    assert answer.json()["error"]["code"] == "HOST_NOT_SERVED"
    assert "sandbox-key" not in answer.text


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "app.localhost", "[::1]", "LOCALHOST"])
def test_loopback_names_and_ip_literals_are_served(served: tuple[Sandbox, httpx.Client], host: str) -> None:
    _, client = served
    answer = client.get("/get-balance.json", headers={"Host": f"{host}:{_port(client)}"}, auth=AUTH)
    assert answer.status_code == 200


def test_allowed_hosts_names_more_hosts() -> None:
    sandbox = Sandbox(SandboxConfig(rate_limit=0), allowed_hosts=["sandbox.test"])
    with serve_in_thread(sandbox) as url, httpx.Client(base_url=url) as client:
        assert client.get("/_sandbox/state", headers={"Host": "sandbox.test"}).status_code == 200
        assert client.get("/_sandbox/state", headers={"Host": "other.test"}).status_code == 421


def _settings(sandbox: Sandbox) -> tuple[str, float]:
    account = sandbox.account()
    return account.dlr_callback, account.balance


CROSS_SITE: list[dict[str, Any]] = [
    # a classic cross-site HTML form: urlencoded, Origin of the attacker
    {
        "data": {"dlr_callback": "https://evil.example/x", "amount": "1000"},
        "headers": {"Origin": "https://evil.example"},
    },
    # the same form from a browser that sends no Origin
    {"data": {"dlr_callback": "https://evil.example/x", "amount": "1000"}},
    # text/plain form (no preflight) carrying JSON-looking text
    {
        "content": b'{"dlr_callback": "https://evil.example/x", "amount": 1000}',
        "headers": {"Content-Type": "text/plain"},
    },
    # JSON, but the browser says it came from another site
    {
        "json": {"dlr_callback": "https://evil.example/x", "amount": 1000},
        "headers": {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"},
    },
    {
        "json": {"dlr_callback": "https://evil.example/x", "amount": 1000},
        "headers": {"Origin": "http://localhost:3000"},
    },
    {"json": {"dlr_callback": "https://evil.example/x", "amount": 1000}, "headers": {"Origin": "null"}},
]


@pytest.mark.parametrize("request_kwargs", CROSS_SITE)
@pytest.mark.parametrize("endpoint", ["settings", "credit", "reset", "advance"])
def test_cross_site_admin_posts_are_refused_and_change_nothing(
    served: tuple[Sandbox, httpx.Client], endpoint: str, request_kwargs: dict[str, Any]
) -> None:
    sandbox, client = served
    client.post("/send-sms.json", data={"message": "keep me", "to": "61491570151"}, auth=AUTH)
    before = (_settings(sandbox), len(sandbox.state.messages))
    answer = client.post(f"/_sandbox/{endpoint}", **request_kwargs)
    assert answer.status_code in (403, 415), answer.text
    assert "error" in answer.json()
    assert (_settings(sandbox), len(sandbox.state.messages)) == before


def test_same_origin_json_posts_work(served: tuple[Sandbox, httpx.Client]) -> None:
    _, client = served
    origin = str(client.base_url).rstrip("/")
    headers = {"Origin": origin, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}
    answer = client.post("/_sandbox/credit", json={"amount": 5}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert client.post("/_sandbox/reset", json={}, headers=headers).json() == {}
    assert client.post("/_sandbox/reset", headers={"Content-Type": "application/json"}).json() == {}


def test_cross_site_reads_are_refused_but_navigation_opens(served: tuple[Sandbox, httpx.Client]) -> None:
    _, client = served
    fetched = client.get(
        "/_sandbox/state", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}
    )
    assert fetched.status_code == 403
    assert "sandbox-key" not in fetched.text
    opened = client.get(
        "/_sandbox/state", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    )
    assert opened.status_code == 200
    assert client.get("/_sandbox/state", headers={"Sec-Fetch-Site": "none"}).status_code == 200


def test_the_in_process_app_serves_any_host() -> None:
    """No socket, no DNS: only code in this process reaches it (respx, ASGITransport with any base URL)."""
    sandbox = Sandbox(SandboxConfig(rate_limit=0))
    assert sandbox.allowed_hosts is None


def test_binding_beyond_loopback_prints_a_warning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served: list[Any] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **options: served.append(options))
    assert main(["--host", "0.0.0.0", "--port", "8799", "--allow-host", "dev.example"]) == 0
    err = capsys.readouterr().err
    assert "WARNING" in err
    assert "0.0.0.0" in err
    assert served[0]["host"] == "0.0.0.0"
    assert main(["--port", "8799"]) == 0
    assert "WARNING" not in capsys.readouterr().err
