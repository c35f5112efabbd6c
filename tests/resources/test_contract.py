"""Contract tests: the real client, through its public resources, against the sandbox.

Every scenario runs four ways: the sandbox in process (``sandbox_client``: ASGI transport, virtual
time) and served over a loopback socket (``served_sandbox_client``: uvicorn, real time, rate
limited on both sides), each with JSON and with XML responses. A last group reads one sandbox state
through a JSON and an XML client at once and checks that both give equal models.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import httpx
import pytest

from smsapi_async import (
    AlreadySentError,
    AsyncSmsClient,
    AuthenticationError,
    InvalidFieldError,
    NotFoundError,
    RecipientsError,
)
from smsapi_async.sandbox import Sandbox, SandboxConfig
from smsapi_async.testing import SandboxHarness, sandbox_client, served_sandbox_client

IN_PROCESS, SERVED = "in-process", "served"
MODES = [(IN_PROCESS, "json"), (IN_PROCESS, "xml"), (SERVED, "json"), (SERVED, "xml")]

# Served: the sandbox still enforces a strict sliding window and the client paces itself under it,
# but fast enough that a scenario of a few dozen calls takes a fraction of a second.
SERVED_SANDBOX_RATE = 200
SERVED_CLIENT_RATE = 180

ALICE, BOB, BOUNCER = "61491570151", "61491570152", "61491570159"  # "9": the sandbox hard-bounces it
OWN_NUMBER = "61400000000"  # the demo account's leased virtual number
PRICE = Decimal("0.087")


@attrs.define
class Env:
    """One of the four set-ups: a harness, and what differs between in-process and served."""

    harness: SandboxHarness
    mode: str
    fmt: str

    @property
    def client(self) -> AsyncSmsClient:
        return self.harness.client

    @property
    def sandbox(self) -> Sandbox:
        return self.harness.sandbox

    @property
    def in_process(self) -> bool:
        return self.mode == IN_PROCESS

    async def deliver(self) -> None:
        """Let every pending DLR fall due: virtual time in process; served DLRs are immediate."""
        if self.in_process:
            await self.harness.advance(5)

    def _http(self, **options: Any) -> httpx.AsyncClient:
        if self.in_process:
            transport = httpx.ASGITransport(app=self.sandbox.app)
            return httpx.AsyncClient(transport=transport, base_url=self.harness.base_url, **options)
        return httpx.AsyncClient(base_url=self.harness.base_url, **options)

    async def admin(self, path: str, **data: Any) -> Any:
        """POST to a ``/_sandbox/`` admin endpoint (works the same in process and served)."""
        async with self._http() as http:
            response = await http.post(f"/_sandbox/{path}", json=data)
        assert response.status_code == 200, response.text
        return response.json()

    @asynccontextmanager
    async def twin(self, response_format: str) -> AsyncIterator[AsyncSmsClient]:
        """Another client of the same account and sandbox, in ``response_format``, sharing the
        limiter (the sandbox counts calls per account)."""
        account = self.sandbox.config.accounts[0]
        options: dict[str, Any] = {}
        if self.in_process:
            options["transport"] = httpx.ASGITransport(app=self.sandbox.app)
        async with AsyncSmsClient(
            account.api_key,
            account.api_secret,
            base_url=self.harness.base_url,
            response_format=response_format,  # type: ignore[arg-type]
            rate_limit=None,
            limiter=self.client.limiter,  # None in process: unlimited, like the harness's client
            **options,
        ) as other:
            yield other


@pytest.fixture(params=MODES, ids=[f"{mode}-{fmt}" for mode, fmt in MODES])
async def env(request: pytest.FixtureRequest, anyio_backend: str) -> AsyncIterator[Env]:
    mode, fmt = request.param
    if mode == IN_PROCESS:
        async with sandbox_client(response_format=fmt) as harness:
            yield Env(harness, mode, fmt)
    else:
        config = SandboxConfig(rate_limit=SERVED_SANDBOX_RATE, delivery_delay=0)
        async with served_sandbox_client(
            config, response_format=fmt, rate_limit=SERVED_CLIENT_RATE
        ) as harness:
            yield Env(harness, mode, fmt)


def statuses(env: Env) -> list[int | None]:
    return [entry["status"] for entry in env.sandbox.requests]


# --- sending and reporting ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_send_to_numbers_is_reported_by_get_stats_sent_and_delivery_status(env: Env) -> None:
    client = env.client
    sent = await client.sms.send(message="hello", to=[ALICE, BOB, BOUNCER])
    assert (sent.recipients, sent.sms, sent.cost) == (3, 3, 3 * PRICE)
    assert sent.message_id > 0

    info = await client.sms.get(message_id=sent.message_id)
    assert (info.message_id, info.message, info.recipients, info.cost) == (
        sent.message_id,
        "hello",
        3,
        3 * PRICE,
    )
    if env.in_process:  # served DLRs arrive at once; in process nothing has happened yet
        assert info.delivery_stats.pending == 3
        assert (await client.sms.stats(message_id=sent.message_id)).pending == 3

    await env.deliver()
    stats = await client.sms.stats(message_id=sent.message_id)
    assert (stats.recipient_count, stats.delivered, stats.hard_bounced, stats.pending) == (3, 2, 1, 0)

    pages = [page async for page in client.sms.sent(message_id=sent.message_id, page_size=2).pages()]
    assert [len(page.items) for page in pages] == [2, 1]
    assert {page.totals["total"] for page in pages} == {3}
    recipients = {r.msisdn: r.delivery_status for page in pages for r in page.items}
    assert recipients == {ALICE: "delivered", BOB: "delivered", BOUNCER: "hard-bounce"}

    delivered = await client.sms.delivery_status(message_id=sent.message_id, msisdn=ALICE)
    assert (delivered.mobile, delivered.status, delivered.message) == (ALICE, "delivered", "hello")
    assert delivered.sender_id == OWN_NUMBER
    bounced = await client.sms.delivery_status(message_id=sent.message_id, msisdn=BOUNCER)
    assert bounced.status == "failed"


@pytest.mark.anyio
async def test_balance_decreases_by_the_cost_of_each_send(env: Env) -> None:
    before = await env.client.account.balance()
    assert (before.balance, before.currency) == (Decimal(1000), "AUD")
    one = await env.client.sms.send(message="one part", to=ALICE)
    two = await env.client.sms.send(message="x" * 200, to=[ALICE, BOB])  # 2 parts each
    assert (one.cost, two.sms, two.cost) == (PRICE, 4, 4 * PRICE)
    after = await env.client.account.balance()
    assert after.balance == before.balance - one.cost - two.cost


@pytest.mark.anyio
async def test_scheduled_send_cancels_once_then_raises_already_sent_and_is_refunded(env: Env) -> None:
    when = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=1)
    scheduled = await env.client.sms.send(message="later", to=ALICE, send_at=when)
    assert scheduled.send_at == when
    assert (await env.client.account.balance()).balance == Decimal(1000) - PRICE

    assert await env.client.sms.cancel(message_id=scheduled.message_id) is True
    with pytest.raises(AlreadySentError) as caught:
        await env.client.sms.cancel(message_id=scheduled.message_id)
    assert (caught.value.code, caught.value.call) == ("ALREADY_SENT", "cancel-sms")
    assert (await env.client.account.balance()).balance == Decimal(1000)
    cancelled = [m for m in env.sandbox.snapshot()["messages"] if m["id"] == scheduled.message_id]
    assert cancelled[0]["cancelled"] is True


@pytest.mark.anyio
async def test_cancelling_a_message_already_sent_raises_already_sent(env: Env) -> None:
    sent = await env.client.sms.send(message="now", to=ALICE)
    with pytest.raises(AlreadySentError):
        await env.client.sms.cancel(message_id=sent.message_id)


# --- lists ----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_list_lifecycle_with_custom_fields_paged_members_edit_optout_and_delete(env: Env) -> None:
    lists = env.client.lists
    created = await lists.add("Customers", fields={"field_1": "Email"})
    assert (created.name, created.fields, created.members_active) == ("Customers", {"field_1": "Email"}, 0)

    numbers = [f"6149157020{i}" for i in range(5)]
    for i, msisdn in enumerate(numbers):
        contact = await lists.add_contact(
            created.id, msisdn, first_name=f"F{i}", fields={"field_1": f"p{i}@example.com"}
        )
        assert (contact.msisdn, contact.first_name, contact.fields) == (
            msisdn, f"F{i}", {"Email": f"p{i}@example.com"}
        )  # fmt: skip

    pages = [page async for page in lists.members(created.id, page_size=2).pages()]
    assert [(page.number, page.count, len(page.items)) for page in pages] == [(1, 3, 2), (2, 3, 2), (3, 3, 1)]
    assert pages[0].totals == {"members_total": 5, "members_active": 5}
    walked = [c async for c in lists.members(created.id, page_size=2)]
    assert [c.msisdn for c in walked] == numbers
    assert [c.fields["Email"] for c in walked] == [f"p{i}@example.com" for i in range(5)]

    edited = await lists.edit_contact(created.id, numbers[0], first_name="Zed", fields={"field_1": "z@x.io"})
    assert (edited.first_name, edited.fields) == ("Zed", {"Email": "z@x.io"})
    assert (await lists.get_contact(created.id, numbers[0])).first_name == "Zed"

    assert await lists.optout(created.id, numbers[1]) == (created.id,)
    assert await lists.delete_contact(created.id, numbers[2]) == (created.id,)
    active = [c.msisdn async for c in lists.members(created.id, page_size=2)]
    assert active == [numbers[0], numbers[3], numbers[4]]
    details = await lists.get(created.id)
    assert (details.members_active, details.members_total) == (3, 5)
    assert created.id in [lst.id async for lst in lists.list()]

    await lists.remove(created.id)
    with pytest.raises(NotFoundError):
        await lists.get(created.id)


@pytest.mark.anyio
async def test_send_to_a_list_reaches_its_active_members_with_merge_fields(env: Env) -> None:
    created = await env.client.lists.add("Team")
    for msisdn, name in ((ALICE, "Alice"), (BOB, "Bob"), ("61491570153", "Carol")):
        await env.client.lists.add_contact(created.id, msisdn, first_name=name)
    await env.client.lists.delete_contact(created.id, "61491570153")

    sent = await env.client.sms.send(message="Hi [firstname]", list_id=created.id)
    assert sent.recipients == 2
    assert sent.list is not None
    assert (sent.list.id, sent.list.name) == (created.id, "Team")
    await env.deliver()
    status = await env.client.sms.delivery_status(message_id=sent.message_id, msisdn=BOB)
    assert (status.status, status.message) == ("delivered", "Hi Bob")
    names = {r.msisdn: r.first_name async for r in env.client.sms.sent(message_id=sent.message_id)}
    assert names == {ALICE: "Alice", BOB: "Bob"}


@pytest.mark.anyio
async def test_send_to_an_empty_list_raises_recipients_error(env: Env) -> None:
    created = await env.client.lists.add("Nobody")
    with pytest.raises(RecipientsError) as caught:
        await env.client.sms.send(message="hi", list_id=created.id)
    assert caught.value.code == "LIST_EMPTY"


# --- replies --------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_injected_reply_is_read_back_by_user_responses_and_responses(env: Env) -> None:
    sent = await env.client.sms.send(message="Coming?", to=[ALICE, BOB])
    env.harness.inject_reply(ALICE, "Yes!")

    (mine,) = [r async for r in env.client.sms.responses(message_id=sent.message_id)]
    assert (mine.message_id, mine.msisdn, mine.response, mine.longcode) == (
        sent.message_id, ALICE, "Yes!", OWN_NUMBER
    )  # fmt: skip
    everyone = [r async for r in env.client.sms.user_responses()]
    assert everyone == [mine]
    assert (await env.client.sms.stats(message_id=sent.message_id)).responses == 1


@pytest.mark.anyio
async def test_stop_reply_opts_the_sender_out_of_later_sends(env: Env) -> None:
    sent = await env.client.sms.send(message="Promo", to=ALICE)
    env.harness.inject_reply(ALICE, "STOP")
    assert (await env.client.sms.stats(message_id=sent.message_id)).optouts == 1
    with pytest.raises(RecipientsError):
        await env.client.sms.send(message="Promo 2", to=ALICE)


# --- numbers, keywords, email ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_numbers_list_get_lease_and_edit_options(env: Env) -> None:
    numbers = env.client.numbers
    owned = [n async for n in numbers.list()]
    assert [(n.number, n.status) for n in owned] == [(OWN_NUMBER, "active")]
    assert await numbers.get(OWN_NUMBER) == owned[0]

    available = await numbers.list(filter="available", page_size=2, limit=3).to_list()
    assert len(available) == 3
    leased = await numbers.lease(available[0].number)
    assert (leased.number, leased.status, leased.auto_renew) == (available[0].number, "active", True)
    assert leased.price == Decimal(25)
    assert (await env.client.account.balance()).balance == Decimal(975)
    assert {n.number async for n in numbers.list()} == {OWN_NUMBER, leased.number}

    await numbers.edit_options(leased.number, forward_url="https://example.com/inbound")  # answers nothing
    assert env.sandbox.account().numbers[leased.number].forward_url == "https://example.com/inbound"
    with pytest.raises(InvalidFieldError):  # not leased: only the server knows
        await numbers.get("61480009999")


@pytest.mark.anyio
async def test_keywords_add_edit_and_list(env: Env) -> None:
    added = await env.client.keywords.add("JOIN", OWN_NUMBER, reference="spring", welcome_message="Hi")
    assert (added.keyword, added.number, added.reference, added.status) == (
        "JOIN",
        OWN_NUMBER,
        "spring",
        "open",
    )
    assert added.list_id > 0  # the API makes an auto list

    edited = await env.client.keywords.edit("JOIN", OWN_NUMBER, status="closed", members_message="Again?")
    assert (edited.status, edited.welcome_message, edited.members_message) == ("closed", "Hi", "Again?")
    assert await env.client.keywords.list().to_list() == [edited]
    assert await env.client.keywords.list(number=OWN_NUMBER).to_list() == [edited]


@pytest.mark.anyio
async def test_email_add_and_delete(env: Env) -> None:
    assert (await env.client.email.add("*@example.com", max_sms=2)).success is True
    assert (await env.client.email.delete("*@example.com")).success is True
    assert [e["call"] for e in env.sandbox.requests] == ["add-email", "delete-email"]
    assert statuses(env) == [200, 200]


# --- resellers ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_reseller_client_works_through_for_client_with_its_own_credentials(env: Env) -> None:
    created = await env.client.resellers.add_client("Acme", "ops@acme.example", "hunter22", "61491570300")
    assert (created.name, created.email, created.balance) == ("Acme", "ops@acme.example", Decimal(0))
    assert created.apikey
    assert created.apisecret
    assert created.id in [c.id async for c in env.client.resellers.clients()]
    await env.admin("credit", api_key=created.apikey, amount=10)

    sub = env.client.resellers.for_client(created)
    if env.client.limiter is not None:  # limits are per account: its own limiter, not shared
        assert sub.limiter is not None
        assert sub.limiter is not env.client.limiter
    assert (await sub.account.balance()).balance == Decimal(10)
    sent = await sub.sms.send(message="from Acme", to=ALICE)
    assert (await sub.account.balance()).balance == Decimal(10) - sent.cost
    assert (await env.client.account.balance()).balance == Decimal(1000)  # the reseller paid nothing

    (message,) = env.sandbox.snapshot()["messages"]
    assert message["account_id"] == created.id
    with pytest.raises(NotFoundError):  # messages are per account
        await env.client.sms.get(message_id=sent.message_id)
    accounts = {e["call"]: e["account_id"] for e in env.sandbox.requests if e["call"] == "send-sms"}
    assert accounts == {"send-sms": created.id}


# --- error mapping --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_unknown_message_id_raises_not_found(env: Env) -> None:
    with pytest.raises(NotFoundError) as caught:
        await env.client.sms.get(message_id=123456789)
    assert (caught.value.code, caught.value.status_code, caught.value.call) == ("NOT_FOUND", 400, "get-sms")
    assert statuses(env) == [400]


@pytest.mark.anyio
async def test_wrong_secret_raises_authentication_error_and_is_not_retried(env: Env) -> None:
    key = env.sandbox.config.accounts[0].api_key
    impostor = env.client.with_credentials(key, "not-the-secret")
    with pytest.raises(AuthenticationError) as caught:
        await impostor.account.balance()
    assert (caught.value.code, caught.value.status_code) == ("AUTH_FAILED", 401)
    assert statuses(env) == [401]


@pytest.mark.anyio
async def test_server_side_validation_raises_invalid_field_error(env: Env) -> None:
    with pytest.raises(InvalidFieldError) as caught:  # well formed; only the API knows it is not ours
        await env.client.numbers.get("61499999999")
    assert caught.value.code == "FIELD_INVALID"
    assert "not leased" in str(caught.value.description)


# --- JSON and XML agree ---------------------------------------------------------------------------


def _other(fmt: str) -> str:
    return "xml" if fmt == "json" else "json"


@pytest.mark.anyio
async def test_json_and_xml_give_equal_models_for_the_same_state(env: Env) -> None:
    client = env.client
    contacts = await client.lists.add("Both", fields={"field_1": "Email", "field_2": "City"})
    await client.lists.add_contact(contacts.id, ALICE, first_name="Alice", fields={"field_1": "a@x.io"})
    await client.lists.add_contact(contacts.id, BOB, last_name="Builder", fields={"field_2": "Perth"})
    campaign = await client.sms.send(message="Hi [firstname]", list_id=contacts.id)
    direct = await client.sms.send(message="direct", to=[ALICE, BOUNCER], validity=60)
    await client.keywords.add("JOIN", OWN_NUMBER, forward_email=["a@x.io", "b@x.io"])
    await client.resellers.add_client("Acme", "ops@acme.example", "hunter22", "61491570300")
    await env.deliver()
    env.harness.inject_reply(ALICE, "Yes")

    async def read(c: AsyncSmsClient) -> dict[str, Any]:
        return {
            "balance": await c.account.balance(),
            "get": [await c.sms.get(message_id=m.message_id) for m in (campaign, direct)],
            "stats": [await c.sms.stats(message_id=m.message_id) for m in (campaign, direct)],
            "sent": [await c.sms.sent(message_id=m.message_id).to_list() for m in (campaign, direct)],
            "status": await c.sms.delivery_status(message_id=direct.message_id, msisdn=BOUNCER),
            "responses": await c.sms.user_responses().to_list(),
            "list": await c.lists.get(contacts.id),
            "lists": await c.lists.list().to_list(),
            "members": await c.lists.members(contacts.id, status="all").to_list(),
            "contact": await c.lists.get_contact(contacts.id, BOB),
            "numbers": await c.numbers.list().to_list(),
            "keywords": await c.keywords.list().to_list(),
            "clients": await c.resellers.clients().to_list(),
        }

    async with env.twin(_other(env.fmt)) as twin:
        mine, theirs = await read(client), await read(twin)
    assert mine == theirs  # model equality leaves `extra` out
    assert {e["format"] for e in env.sandbox.requests if e["call"] == "get-sms"} == {"json", "xml"}
