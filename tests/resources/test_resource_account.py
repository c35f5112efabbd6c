"""``client.account``: the balance."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
import respx
from support import api_response, form_of

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
    api: respx.MockRouter,
    api_client: Callable[..., AsyncSmsClient],
    example: str,
    response_format: str,
    expected: Balance,
) -> None:
    route = api.post(f"/get-balance.{response_format}").mock(return_value=api_response(example))

    balance = await api_client(response_format=response_format).account.balance()

    assert route.call_count == 1
    assert form_of(route.calls.last.request) == {}
    assert balance == expected
    assert isinstance(balance.balance, Decimal)


async def test_balance_with_bad_credentials(
    api: respx.MockRouter, api_client: Callable[..., AsyncSmsClient]
) -> None:
    api.post("/get-balance.json").mock(return_value=api_response("postman/error-auth-failed.json", 401))
    with pytest.raises(AuthenticationError):
        await api_client().account.balance()
