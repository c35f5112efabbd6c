"""Callbacks and ``file_url`` fetches contained (finding 4 of the probe): they reached link-local
metadata addresses (``169.254.169.254`` in three spellings), and a callback URL naming the sandbox's
own ``send-sms`` made one send into 110 messages, and as the account's default receipt URL into 1 727
in 8 s.

The end-to-end runs happen in a network namespace of their own (``unshare -n``): loopback is the only
interface there, and the link-local addresses are given to it, so no request can leave the machine
(``sandbox_containment.py`` does the setting up). Elsewhere, callbacks go through an in-process
transport.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from support import TESTS, in_namespace

from smsapi_async.sandbox import AccountConfig, Sandbox, SandboxConfig
from smsapi_async.sandbox._egress import LOOP_HEADER, REFUSED_HEADER, refusal

AUTH = ("sandbox-key", "sandbox-secret")


def contained_run(tmp_path: Path, *flags: str) -> dict[str, Any]:
    import subprocess  # noqa: PLC0415

    run = subprocess.run(
        in_namespace("nm", sys.executable, str(TESTS / "sandbox_containment.py"), str(tmp_path), *flags),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return report


def test_4_no_callback_nor_file_url_reaches_a_link_local_address_in_any_spelling(tmp_path: Path) -> None:
    report = contained_run(tmp_path)
    assert report["metadata_hits"] == []
    refused = [d for d in report["deliveries"] if d["attempts"][0].get("error") == "refused destination"]
    # every spelling that resolves (all but a scoped IPv6 literal and a trailing-dot name that the
    # private hosts file does not know: the positive control below shows those two unreachable anyway)
    assert len(refused) == 9
    for delivery in refused:
        assert delivery["status"] == "failed"
        assert len(delivery["attempts"]) == 1  # refused for good, not retried
        detail = delivery["attempts"][0]["detail"]
        assert "link-local address" in detail
        assert "--allow-link-local" in detail
    assert all(i["failed"] and i["imported"] == 0 for i in report["imports"])


def test_4_allow_link_local_lets_them_through(tmp_path: Path) -> None:
    """The positive control: in the same namespace, the stand-in metadata service is reachable."""
    report = contained_run(tmp_path, "--allow")
    reached = {hit.split()[0] for hit in report["metadata_hits"]}
    assert {"169.254.169.254", "2852039166", "metadata.test", "[::ffff:169.254.169.254]"} <= reached
    assert sum(d["status"] == "delivered" for d in report["deliveries"]) == 9
    assert sum(not i["failed"] for i in report["imports"]) == 9


def test_4_a_callback_into_the_sandboxs_own_api_makes_no_message(tmp_path: Path) -> None:
    report = contained_run(tmp_path)
    assert report["messages_final"] == report["messages_sent"]  # the loop made nothing
    (loop,) = [d for d in report["deliveries"] if d["url"].endswith("/send-sms.json")]
    assert loop["status"] == "failed"
    assert loop["attempts"] == [
        {
            "at": loop["attempts"][0]["at"],
            "status_code": 403,
            "error": "callback loop",
            "detail": loop["attempts"][0]["detail"],
        }
    ]
    assert "sandbox's own API" in loop["attempts"][0]["detail"]
    assert "sandbox-secret" not in loop["url"]  # the URL's password is not shown
    (logged,) = report["loop_requests"]
    assert logged["call"] == "send-sms"
    assert logged["status"] == 403


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("169.254.169.254", "a link-local address"),
        ("169.254.0.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("fe80::1%eth0", "a link-local address"),
        ("febf::1", "a link-local address"),
        ("::ffff:169.254.169.254", "carrying 169.254.169.254"),
        ("::169.254.169.254", "carrying 169.254.169.254"),  # IPv4-compatible
        ("64:ff9b::a9fe:a9fe", "carrying 169.254.169.254"),  # NAT64
        ("2002:a9fe:a9fe::1", "carrying 169.254.169.254"),  # 6to4
        ("2001:0:4136:e378:8000:63bf:5601:5601", "carrying 169.254.169.254"),  # Teredo
        ("fd00:ec2::254", "a cloud metadata address"),
    ],
)
def test_4_link_local_in_every_form_is_refused(address: str, why: str) -> None:
    reason = refusal(address)
    assert reason is not None
    assert why in reason


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "::1", "10.0.0.1", "192.168.1.10", "93.184.216.34", "2606:4700::1", "::", "not-an-ip"],
)
def test_4_ordinary_addresses_are_allowed(address: str) -> None:
    assert refusal(address) is None


@pytest.mark.anyio
@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_4_a_request_made_by_a_sandbox_is_refused_in_the_calls_format(fmt: str) -> None:
    sandbox = Sandbox(SandboxConfig(rate_limit=0))
    transport = httpx.ASGITransport(sandbox.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://s", auth=AUTH) as http:
        answer = await http.get(
            f"/send-sms.{fmt}", params={"to": "61400000001", "message": "x"}, headers={LOOP_HEADER: "1"}
        )
        admin = await http.post("/_sandbox/inbound", json={}, headers={LOOP_HEADER: "1"})
    assert answer.status_code == 403
    assert answer.headers[REFUSED_HEADER] == "loop"
    assert "CALLBACK_LOOP" in answer.text
    assert answer.headers["content-type"].startswith("application/json" if fmt == "json" else "text/xml")
    assert admin.status_code == 403  # the admin and inbox routes too: a callback may name any of them
    assert sandbox.state.messages == {}


@pytest.mark.anyio
async def test_4_the_accounts_receipt_url_naming_send_sms_does_not_multiply_messages() -> None:
    """In process (callbacks through the app itself): before, each message's receipt sent another."""
    loop_url = "http://sandbox-key:sandbox-secret@s/send-sms.json?to=61400000999&message=loop"
    config = SandboxConfig(
        accounts=(AccountConfig(dlr_callback=loop_url),),
        rate_limit=0,
        delivery_delay=0.05,
        callback_retry_scale=0,
    )
    holder: dict[str, Sandbox] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await holder["sandbox"].app(scope, receive, send)

    sandbox = holder["sandbox"] = Sandbox(config, callback_transport=httpx.ASGITransport(app))
    async with sandbox.running():
        transport = httpx.ASGITransport(sandbox.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://s", auth=AUTH) as http:
            sent = await http.post("/send-sms.json", data={"to": "61400000001", "message": "hello"})
            assert sent.status_code == 200
            await anyio.sleep(1.0)  # with a loop, dozens of messages by now
    assert len(sandbox.state.messages) == 1
    (delivery,) = sandbox.callbacks.deliveries
    assert delivery.status == "failed"
    assert delivery.attempts[0]["error"] == "callback loop"
