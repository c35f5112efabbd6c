"""``client.account``: the balance."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
from conftest import api_response, call_name, form_of

from smsapi_async import AsyncSmsClient, AuthenticationError
from smsapi_async.models import Balance

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("example", "response_format", "expected"),
    [
        ("postman/get-balance.json", "json", Balance(balance=Decimal("73.954"), currency="AUD")),
        ("postman/get-balance.xml", "xml", Balance(balance=Decimal("73.954"), currency="AUD")),
        ("captured-2015/get-balance.json", "json", Balance(balance=Decimal("496227.614"), currency="SGD")),
    ],
)
async def test_balance(
    make_client: Callable[..., AsyncSmsClient], example: str, response_format: str, expected: Balance
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return api_response(example)

    balance = await make_client(handler, response_format=response_format).account.balance()
    assert [call_name(request) for request in seen] == ["get-balance"]
    assert form_of(seen[0]) == {}
    assert balance == expected
    assert isinstance(balance.balance, Decimal)


async def test_balance_with_bad_credentials(make_client: Callable[..., AsyncSmsClient]) -> None:
    client = make_client(lambda request: api_response("postman/error-auth-failed.json", 401))
    with pytest.raises(AuthenticationError):
        await client.account.balance()
