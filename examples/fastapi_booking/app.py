"""A restaurant's booking service: it confirms each booking by SMS and follows the message.

* ``POST /bookings`` stores a booking and texts the guest a confirmation, through the
  ``AsyncSmsClient`` the app opens at startup (credentials from ``SMSAPI_API_KEY`` and
  ``SMSAPI_API_SECRET``) and hands to its routes by dependency injection;
* ``GET /sms/dlr`` receives the delivery report (DLR) and records whether the SMS arrived;
* ``GET /sms/reply`` receives the guest's replies: ``C`` cancels the booking.

Both callbacks are refused unless signed with the account's API secret. Nothing here knows about
tests: ``test_app.py`` runs this module unchanged against the sandbox, through respx.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel

from smsapi_async import AsyncSmsClient
from smsapi_async.webhooks import (
    DeliveryReport,
    Event,
    InvalidCallbackError,
    Reply,
    parse_callback,
    verify_signature,
)


class BookingRequest(BaseModel):
    name: str
    mobile: str
    party: int
    time: str


class Booking(BookingRequest):
    id: int
    status: str = "confirmed"  # or "cancelled"
    message_id: int | None = None
    sms_status: str = "not sent"  # "sent", then the DLR's: "delivered", "soft-bounce", ...


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # one client for the life of the app: it holds the connection pool and the rate limiter
    async with AsyncSmsClient() as client:  # key and secret from the environment
        app.state.sms = client
        app.state.bookings = {}
        yield


app = FastAPI(lifespan=lifespan)


def sms_client(request: Request) -> AsyncSmsClient:
    client: AsyncSmsClient = request.app.state.sms
    return client


def bookings(request: Request) -> dict[int, Booking]:
    stored: dict[int, Booking] = request.app.state.bookings
    return stored


SmsClient = Annotated[AsyncSmsClient, Depends(sms_client)]
Bookings = Annotated[dict[int, Booking], Depends(bookings)]


def public_url() -> str:
    return os.environ.get("PUBLIC_URL", "https://bistro.example.com")


@app.post("/bookings", status_code=201)
async def book(request: BookingRequest, sms: SmsClient, stored: Bookings) -> Booking:
    booking = Booking(id=len(stored) + 1, **request.model_dump())
    stored[booking.id] = booking
    sent = await sms.sms.send(
        message=f"{booking.name}, your table for {booking.party} is booked for {booking.time}. "
        "Reply C to cancel.",
        to=booking.mobile,
        from_="Bistro",
        dlr_callback=f"{public_url()}/sms/dlr",
        reply_callback=f"{public_url()}/sms/reply",
    )
    booking.message_id, booking.sms_status = sent.message_id, "sent"
    return booking


@app.get("/bookings/{booking_id}")
async def get_booking(booking_id: int, stored: Bookings) -> Booking:
    if booking_id not in stored:
        raise HTTPException(404)
    return stored[booking_id]


def signed_event(request: Request) -> Event:
    """The callback's event, if the platform signed it with our API secret; else 403 (or 400)."""
    query = request.scope["query_string"]  # the raw query: the signature covers its exact order
    secret = os.environ["SMSAPI_API_SECRET"]
    if not verify_signature(query, request.headers.get("x-transmitsms-signature"), secret):
        raise HTTPException(403, "bad signature")
    try:
        return parse_callback(query)
    except InvalidCallbackError as exc:
        raise HTTPException(400, exc.reason) from None


SignedEvent = Annotated[Event, Depends(signed_event)]


@app.get("/sms/dlr")
async def delivery_report(event: SignedEvent, stored: Bookings) -> dict[str, str]:
    if not isinstance(event, DeliveryReport):
        raise HTTPException(400, "not a delivery report")
    for booking in stored.values():
        if booking.message_id == event.message_id:
            booking.sms_status = event.status
    return {"ok": "yes"}  # a 2xx, or the platform retries


@app.get("/sms/reply")
async def reply(event: SignedEvent, stored: Bookings, sms: SmsClient) -> dict[str, str]:
    if not isinstance(event, Reply):
        raise HTTPException(400, "not a reply")
    cancel = event.text.strip().upper() == "C"
    for booking in stored.values():
        if cancel and booking.message_id == event.message_id and booking.status == "confirmed":
            booking.status = "cancelled"
            goodbye = f"Booking {booking.id} cancelled. Hope to see you soon!"
            await sms.sms.send(message=goodbye, to=booking.mobile)
    return {"ok": "yes"}
