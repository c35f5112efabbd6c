"""client.email: add-email / delete-email requests and results."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from support import call_name, failure, form_of, serving

from smsapi_async import AsyncSmsClient, InvalidRequestError, NoAccessError
from smsapi_async.models import EmailSmsResult

pytestmark = pytest.mark.anyio

MakeClient = Callable[..., AsyncSmsClient]


@pytest.mark.parametrize(
    ("path", "response_format"),
    [
        ("postman/add-email.json", "json"),
        ("postman/add-email.xml", "xml"),
        ("captured-2015/add-email.json", "json"),
    ],
)
async def test_add_sends_email_max_sms_and_number(
    make_client: MakeClient, path: str, response_format: str
) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving(path, seen), response_format=response_format)

    result = await client.email.add("email@yourdomain.com", max_sms=2, number="61418279031")

    assert call_name(seen[0]) == "add-email"
    assert form_of(seen[0]) == {"email": "email@yourdomain.com", "max_sms": "2", "number": "61418279031"}
    assert result == EmailSmsResult(success=True)


async def test_add_sends_only_the_address_by_default(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/add-email.json", seen))
    await client.email.add("*@example.com")
    assert form_of(seen[0]) == {"email": "*@example.com"}


@pytest.mark.parametrize(
    ("email", "options"),
    [
        ("a@b.c", {"max_sms": 0}),
        ("a@b.c", {"max_sms": 5}),
        ("a@b.c", {"max_sms": True}),
        ("a@b.c", {"max_sms": 2.0}),
        ("not-an-address", {}),
        ("", {}),
        ("a@b.c", {"number": " "}),
    ],
)
async def test_add_validates_before_any_call(
    make_client: MakeClient, email: str, options: dict[str, Any]
) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/add-email.json", seen))
    with pytest.raises(InvalidRequestError):
        await client.email.add(email, **options)
    assert seen == []


@pytest.mark.parametrize(
    ("path", "response_format"),
    [
        ("postman/delete-email.json", "json"),
        ("postman/delete-email.xml", "xml"),
        ("captured-2015/delete-email.json", "json"),
    ],
)
async def test_delete_sends_email(make_client: MakeClient, path: str, response_format: str) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving(path, seen), response_format=response_format)

    result = await client.email.delete("email2@yourdomain.com")

    assert call_name(seen[0]) == "delete-email"
    assert form_of(seen[0]) == {"email": "email2@yourdomain.com"}
    assert result.success is True


async def test_delete_rejects_a_non_address_before_any_call(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []
    client = make_client(serving("postman/delete-email.json", seen))
    with pytest.raises(InvalidRequestError):
        await client.email.delete("example.com")
    assert seen == []


async def test_no_access_error(make_client: MakeClient) -> None:
    client = make_client(lambda request: failure("NO_ACCESS", "You do not have access to this feature"))
    with pytest.raises(NoAccessError):
        await client.email.add("a@b.c")


def test_result_success_flag_is_lenient() -> None:
    assert EmailSmsResult.from_api({}).success is True
    assert EmailSmsResult.from_api({"success": "true"}).success is True
    assert EmailSmsResult.from_api({"success": False}).success is False
