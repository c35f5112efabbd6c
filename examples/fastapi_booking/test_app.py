"""The booking app, tested end to end with no change to its code: its own AsyncSmsClient is
answered by the sandbox through respx, and the sandbox's signed callbacks reach its endpoints."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from app import app

from smsapi_async.testing import RespxSandbox, deliver_callback

pytestmark = pytest.mark.asyncio

ADA = {"name": "Ada", "mobile": "+61 491 570 156", "party": 4, "time": "7pm"}


async def book(client: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    response = await client.post("/bookings", json={**ADA, **changes})
    assert response.status_code == 201
    booking: dict[str, Any] = response.json()
    return booking


async def current(client: httpx.AsyncClient, booking: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = (await client.get(f"/bookings/{booking['id']}")).json()
    return found


async def test_a_booking_is_confirmed_by_sms(client: httpx.AsyncClient, respx_sandbox: RespxSandbox) -> None:
    booking = await book(client)
    (message,) = respx_sandbox.state.messages.values()
    assert message.id == booking["message_id"]
    assert message.text == "Ada, your table for 4 is booked for 7pm. Reply C to cancel."
    assert message.sender == "Bistro"
    assert [recipient.msisdn for recipient in message.recipients] == ["61491570156"]
    assert booking["sms_status"] == "sent"
    assert respx_sandbox.calls == ["send-sms"]


async def test_the_delivery_report_reaches_the_app(
    client: httpx.AsyncClient, respx_sandbox: RespxSandbox
) -> None:
    booking = await book(client)
    await respx_sandbox.advance(5)  # the DLR falls due: the sandbox calls GET /sms/dlr, signed
    assert (await current(client, booking))["sms_status"] == "delivered"
    (dlr,) = respx_sandbox.callbacks
    assert dlr.url.startswith("https://bistro.example.com/sms/dlr?")
    assert dlr.status == "delivered"  # the app answered 2xx


async def test_a_bounce_is_recorded(client: httpx.AsyncClient, respx_sandbox: RespxSandbox) -> None:
    booking = await book(client, mobile="+61 491 570 159")  # the sandbox hard-bounces numbers ending in 9
    await respx_sandbox.advance(5)
    assert (await current(client, booking))["sms_status"] == "hard-bounce"


async def test_replying_c_cancels_the_booking(client: httpx.AsyncClient, respx_sandbox: RespxSandbox) -> None:
    booking = await book(client)
    respx_sandbox.inject_reply("61491570156", "c ")  # the guest answers the confirmation
    await respx_sandbox.settle()  # the sandbox calls GET /sms/reply; the app texts back
    assert (await current(client, booking))["status"] == "cancelled"
    assert respx_sandbox.calls == ["send-sms", "send-sms"]
    assert (
        list(respx_sandbox.state.messages.values())[-1].text == "Booking 1 cancelled. Hope to see you soon!"
    )


async def test_a_repeated_dlr_is_harmless(client: httpx.AsyncClient, respx_sandbox: RespxSandbox) -> None:
    booking = await book(client)
    await respx_sandbox.advance(5)
    (dlr,) = respx_sandbox.callbacks
    # the platform retries a callback it thinks failed: the same signed request again
    again = await deliver_callback(app, dlr.url, [], api_secret="bistro-test-secret")
    assert again.status_code == 200
    assert (await current(client, booking))["sms_status"] == "delivered"


async def test_a_forged_callback_is_refused(client: httpx.AsyncClient) -> None:
    booking = await book(client)
    dlr = {"message_id": str(booking["message_id"]), "mobile": "61491570156", "status": "hard-bounce"}
    forged = await deliver_callback(
        app, "https://bistro.example.com/sms/dlr", dlr, api_secret="not-our-secret"
    )
    assert forged.status_code == 403
    assert (await current(client, booking))["sms_status"] == "sent"
