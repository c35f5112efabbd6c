"""A user's script touching every resource, type-checked with ``mypy --strict`` (nox -s typecheck).

It is also run against the sandbox by tests/client/test_typing_sample.py, so it must stay correct code.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from smsapi_async import (
    AsyncPaginator,
    AsyncSmsClient,
    Balance,
    Client,
    Contact,
    ContactList,
    Keyword,
    MessageStats,
    Page,
    RedisRateLimiter,
    Reply,
    SendResult,
    VirtualNumber,
)
from smsapi_async.events import ClientEvent, RequestSent


async def tour(client: AsyncSmsClient) -> dict[str, object]:
    now = datetime.now(timezone.utc)
    balance: Balance = await client.account.balance()
    money: Decimal = balance.balance

    sent: SendResult = await client.sms.send(message="Hello", to=["61400000001"], from_="Shop")
    stats: MessageStats = await client.sms.stats(sent.message_id)
    info = await client.sms.get(sent.message_id)
    count: int = await client.sms.sent_count(start=now - timedelta(days=1), end=now)
    recipients = [r.msisdn async for r in client.sms.sent(sent.message_id, page_size=10)]
    replies: AsyncPaginator[Reply] = client.sms.user_responses(start=now - timedelta(days=1))
    first: Page[Reply] = await replies.first_page()
    later = await client.sms.send(message="Later", to="61400000002", send_at=now + timedelta(hours=1))
    cancelled: bool = await client.sms.cancel(later.message_id)
    formatted = await client.sms.format_number(msisdn="0491570156", countrycode="AU")

    created: ContactList = await client.lists.add("Customers", fields={"field_1": "Email"})
    contact: Contact = await client.lists.add_contact(created.id, "61400000003", first_name="Ada")
    members = await client.lists.members(created.id).to_list()
    lists = [lst.name async for lst in client.lists.list(limit=5)]

    numbers: list[VirtualNumber] = await client.numbers.list().to_list()
    keyword: Keyword = await client.keywords.add("JOIN", numbers[0].number)
    await client.email.add("ops@example.com", max_sms=2)

    clients: list[Client] = await client.resellers.clients(limit=10).to_list()
    return {
        "money": money,
        "stats": stats.delivered,
        "info": info.message,
        "count": count,
        "recipients": recipients,
        "replies": len(first.items),
        "cancelled": cancelled,
        "formatted": formatted.international,
        "contact": contact.msisdn,
        "members": len(members),
        "lists": lists,
        "keyword": keyword.keyword,
        "clients": len(clients),
    }


def shared(redis_url: str, api_key: str, api_secret: str) -> AsyncSmsClient:
    """A worker's client on a limiter shared through Redis, watched by an event hook (type-checked)."""
    waits: list[float] = []

    def watch(event: ClientEvent) -> None:
        if isinstance(event, RequestSent):
            waits.append(event.queued)

    limiter = RedisRateLimiter(redis_url, rate=2, fallback_rate=0.5)
    return AsyncSmsClient(api_key, api_secret, limiter=limiter, event_hooks=[watch])
