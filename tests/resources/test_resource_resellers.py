"""client.resellers: client accounts, their ledger, and acting as a client account."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx
from support import api_response, call_name, failure, form_of, serving, success

from smsapi_async import (
    AsyncSmsClient,
    InvalidFieldError,
    InvalidRequestError,
    KeyExistsError,
    RateLimiter,
    ResponseParseError,
)
from smsapi_async.models import Client, Transaction

pytestmark = pytest.mark.anyio

MakeClient = Callable[..., AsyncSmsClient]


def basic_user(request: httpx.Request) -> str:
    """The API key a request authenticated with."""
    scheme, _, token = request.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    return base64.b64decode(token).decode().partition(":")[0]


# --- clients ---------------------------------------------------------------------------------------


async def test_get_client_sends_client_id_and_reads_the_capture(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("captured-2015/get-client.json", seen))

    account = await client.resellers.get_client(2024)

    assert call_name(seen[0]) == "get-client"
    assert form_of(seen[0]) == {"client_id": "2024"}
    assert account == Client(
        id=2024,
        name="wefwefwef",
        contact="wefwefwef",
        email="fred@treial.com",
        msisdn="61422265404",
        currency="AUD",
        timezone="Africa/Abidjan",
        created=datetime(2014, 7, 10, 5, 54, 11, tzinfo=timezone.utc),
        client_pays=True,
        sms_margin=Decimal(0),
        apikey="REDACTED",
        apisecret=None,
        balance=Decimal(0),
        recharge_amount=Decimal(0),
        total_lists=0,
        total_sms=0,
        total_contacts=0,
        total_spend=Decimal(0),
        total_revenue=Decimal(0),
        credit_based=False,
        trial=False,
        trial_expiry_date=date(2014, 1, 1),
        has_credit_card=False,
    )
    assert account.extra == {}


async def test_client_repr_never_shows_credentials(make_client: MakeClient) -> None:
    client = make_client(serving("captured-2015/get-clients.json", []))
    accounts = (await client.resellers.clients().first_page()).items
    with_secret = next(account for account in accounts if account.apisecret)
    assert "REDACTED" not in repr(with_secret)
    assert "apisecret" not in repr(with_secret)
    assert "apikey" not in repr(with_secret)
    assert "notrialuser3" in repr(with_secret)


async def test_clients_reads_the_2015_capture(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("captured-2015/get-clients.json", seen))

    page = await client.resellers.clients().first_page()

    assert call_name(seen[0]) == "get-clients"
    assert form_of(seen[0]) == {"page": "1", "max": "100"}
    assert (page.count, page.totals, len(page.items)) == (2, {"clients_total": 15}, 10)
    refres = page.items[1]
    assert (refres.sms_margin, refres.total_spend, refres.total_revenue, refres.balance) == (
        Decimal(2),
        Decimal("0.37"),
        Decimal("0.1"),
        Decimal("14.63"),
    )
    assert [account.trial for account in page.items].count(True) == 1
    assert page.items[-1].trial_expiry_date is None
    assert {account.apisecret for account in page.items} == {None, "REDACTED"}


async def test_add_client_sends_required_and_given_fields(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(lambda request: (seen.append(request), success(id=56423, name="Terry's Repairs"))[1])

    account = await client.resellers.add_client(
        "Terry's Repairs",
        "terry@example.com",
        "s3cret-pass",
        "61491570156",
        contact="Terry Richards",
        timezone="Australia/Sydney",
        client_pays=False,
        sms_margin=Decimal("3.1"),
        number_margin=1.5,
        api_secret="YyYD2lad*88",
        payment_method="fixed",
        fixed_top_up_amount=20,
    )

    assert call_name(seen[0]) == "add-client"
    assert form_of(seen[0]) == {
        "name": "Terry's Repairs",
        "email": "terry@example.com",
        "password": "s3cret-pass",
        "msisdn": "61491570156",
        "number_margin": "1.5",
        "api_secret": "YyYD2lad*88",
        "contact": "Terry Richards",
        "timezone": "Australia/Sydney",
        "client_pays": "false",
        "sms_margin": "3.1",
        "payment_method": "fixed",
        "fixed_top_up_amount": "20",
    }
    assert (account.id, account.name) == (56423, "Terry's Repairs")


async def test_add_client_with_a_taken_email_is_key_exists(make_client: MakeClient) -> None:
    client = make_client(serving("captured-2015/add-client.error-key-exists.json", [], 400))
    with pytest.raises(KeyExistsError, match="User already exists"):
        await client.resellers.add_client(
            "my_client_test_13", "my@clienttest13.com", "my_password", "+61491570156"
        )


@pytest.mark.parametrize(
    "options",
    [
        {"name": ""},
        {"email": " "},
        {"password": ""},
        {"msisdn": ""},
        {"payment_method": "monthly"},
        {"fixed_top_up_amount": 20},
        {"api_secret": "x" * 256},
        {"api_secret": ""},
    ],
)
async def test_add_client_validates_before_any_call(make_client: MakeClient, options: dict[str, Any]) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("captured-2015/get-client.json", seen))
    required = {"name": "n", "email": "e@x.test", "password": "p", "msisdn": "61400000000"}
    arguments = {**required, **options}
    with pytest.raises(InvalidRequestError):
        await client.resellers.add_client(
            arguments.pop("name"),
            arguments.pop("email"),
            arguments.pop("password"),
            arguments.pop("msisdn"),
            **arguments,
        )
    assert seen == []


async def test_edit_client_sends_changes_only(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("captured-2015/get-client.json", seen))

    await client.resellers.edit_client(2024, name="Renamed", client_pays=True, sms_margin=0.5)

    assert call_name(seen[0]) == "edit-client"
    assert seen[0].method == "POST"  # PUT gets nginx 411 (captured-2015/edit-client.put-411.html)
    assert form_of(seen[0]) == {
        "client_id": "2024",
        "name": "Renamed",
        "client_pays": "true",
        "sms_margin": "0.5",
    }


async def test_edit_client_needs_a_change_and_an_id(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("captured-2015/get-client.json", seen))
    with pytest.raises(InvalidRequestError, match="at least one"):
        await client.resellers.edit_client(2024)
    with pytest.raises(InvalidRequestError):
        await client.resellers.edit_client(0, name="x")
    assert seen == []


async def test_an_html_411_page_is_a_parse_error(make_client: MakeClient) -> None:
    client = make_client(serving("captured-2015/edit-client.put-411.html", [], 411))
    with pytest.raises(ResponseParseError) as caught:
        await client.resellers.edit_client(2024, name="x")
    assert caught.value.status_code == 411


# --- transactions ----------------------------------------------------------------------------------


async def test_transactions_send_client_id_and_utc_window(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("captured-2015/get-transactions.json", seen))
    sydney = timezone(timedelta(hours=10))

    page = await client.resellers.transactions(
        2026,
        start=datetime(2015, 9, 10, 10, 0, tzinfo=sydney),
        end=datetime(2015, 9, 11, tzinfo=timezone.utc),
    ).first_page()

    assert call_name(seen[0]) == "get-transactions"
    assert form_of(seen[0]) == {
        "client_id": "2026",
        "start": "2015-09-10 00:00:00",
        "end": "2015-09-11 00:00:00",
        "page": "1",
        "max": "100",
    }
    assert page.totals == {"transactions_total": 6}
    assert page.items[0] == Transaction(
        id=17389230,
        user_id=2026,
        description="card processing fee",
        amount=Decimal(-1),
        balance_standing=Decimal("14.630"),
        created=datetime(2015, 9, 10, 6, 33, 43, tzinfo=timezone.utc),
        type_id=3,
        type_description="",
        message_id=None,
    )
    assert [item.balance_standing for item in page.items] == [
        Decimal(text) for text in ("14.630", "15.630", "9.630", "10.630", "4.630", "5.630")
    ]


@pytest.mark.parametrize(
    ("client_id", "window"),
    [
        (0, {}),
        (None, {}),
        (1, {"start": datetime(2015, 1, 1)}),  # naive
        (
            1,
            {
                "start": datetime(2015, 2, 1, tzinfo=timezone.utc),
                "end": datetime(2015, 1, 1, tzinfo=timezone.utc),
            },
        ),
    ],
)
async def test_transactions_validate_before_any_call(
    make_client: MakeClient, client_id: Any, window: dict[str, datetime]
) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("captured-2015/get-transactions.json", seen))
    with pytest.raises(InvalidRequestError):
        client.resellers.transactions(client_id, **window)
    assert seen == []


async def test_get_transaction_sends_id(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("captured-2015/get-transaction.json", seen))

    entry = await client.resellers.get_transaction(17389227)

    assert call_name(seen[0]) == "get-transaction"
    assert form_of(seen[0]) == {"id": "17389227"}
    assert entry == Transaction(
        id=17389227,
        user_id=2026,
        description="Credit Top Up - $5.00 (+ $1 card processing fee)",
        amount=Decimal(6),
        balance_standing=Decimal("10.63"),
        created=datetime(2015, 9, 10, 6, 32, 44, tzinfo=timezone.utc),
        type_id=23,
        type_description="",
        message_id=None,
    )


# --- for_client --------------------------------------------------------------------------------------


def _client_account(apikey: Any, apisecret: Any) -> Client:
    return Client.from_api({"id": 7, "name": "sub", "apikey": apikey, "apisecret": apisecret})


async def test_for_client_acts_with_the_client_credentials(
    api: respx.MockRouter, api_client: Callable[..., AsyncSmsClient]
) -> None:
    get_lists = api.post("/get-lists.xml").mock(return_value=api_response("postman/get-lists.xml"))
    parent = api_client(response_format="xml", rate_limit=5.0)

    sub = parent.resellers.for_client(_client_account("sub-key-123456", "sub-secret"))
    lists = await sub.lists.list().to_list()
    await parent.lists.list().to_list()

    assert len(lists) == 2
    assert [basic_user(call.request) for call in get_lists.calls] == ["sub-key-123456", "test-key-0001"]
    assert sub.base_url == parent.base_url
    assert sub.response_format == "xml"
    assert isinstance(sub.limiter, RateLimiter)
    assert isinstance(parent.limiter, RateLimiter)
    assert sub.limiter is not parent.limiter
    assert sub.limiter.rate == parent.limiter.rate == 5.0
    await sub.aclose()  # closes nothing: the parent's connections go on working
    await parent.lists.list().to_list()
    assert get_lists.call_count == 3


async def test_for_client_accepts_a_credentials_pair(
    api: respx.MockRouter, api_client: Callable[..., AsyncSmsClient]
) -> None:
    get_lists = api.post("/get-lists.json").mock(return_value=api_response("postman/get-lists.json"))
    parent = api_client()
    sub = parent.resellers.for_client(("pair-key", "pair-secret"))
    await sub.lists.list().first_page()
    assert basic_user(get_lists.calls.last.request) == "pair-key"
    assert sub.limiter is None  # the parent is unlimited, so is the copy


@pytest.mark.parametrize("credentials", [(None, "s"), ("k", None), ("k", ""), ("", "s")])
async def test_for_client_needs_both_credentials(
    make_client: MakeClient, credentials: tuple[Any, Any]
) -> None:
    parent = make_client(serving("postman/get-lists.json", []))
    with pytest.raises(InvalidRequestError):
        parent.resellers.for_client(_client_account(*credentials))
    with pytest.raises(InvalidRequestError):
        parent.resellers.for_client(credentials)


async def test_with_credentials_refuses_to_guess_a_custom_limiter(make_client: MakeClient) -> None:
    class Custom:
        async def acquire(self) -> None:
            return None

        def pause(self, seconds: float) -> None:
            return None

    parent = make_client(serving("postman/get-lists.json", []), limiter=Custom())
    with pytest.raises(InvalidRequestError, match="limiter"):
        parent.with_credentials("k", "s")
    own = RateLimiter(3.0)
    assert parent.with_credentials("k", "s", limiter=own).limiter is own
    assert parent.with_credentials("k", "s", limiter=None).limiter is None


async def test_edit_client_error_body(make_client: MakeClient) -> None:
    client = make_client(lambda request: failure("FIELD_INVALID", "name must be unique"))
    with pytest.raises(InvalidFieldError):
        await client.resellers.edit_client(1, name="dup")
