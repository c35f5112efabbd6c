"""``client.sms``: send, cancel, get, reply and format_number — what they send, return and refuse."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
from support import Recorder, api_response, failure, success

from smsapi_async import (
    AlreadySentError,
    AsyncSmsClient,
    InvalidFieldError,
    InvalidRequestError,
    NotFoundError,
    OutcomeUnknownError,
    RecipientsError,
)
from smsapi_async.models import FormattedNumber, ListSummary, MessageInfo, NumberType, SendResult

pytestmark = pytest.mark.anyio

MakeClient = Callable[..., AsyncSmsClient]


async def test_send_to_numbers_sends_every_option_under_its_api_name(make_client: MakeClient) -> None:
    handler = Recorder(api_response("postman/send-sms.scheduled-all-options.json"))
    client = make_client(handler)
    send_at = datetime.now(timezone(timedelta(hours=10))) + timedelta(days=1)
    result = await client.sms.send(
        message="This is my message, click on my link [tracked-link]",
        to=["+61 491 570 156", "61491570156", "(04) 9157-0157"],
        from_="+61477333222",
        countrycode="au",
        send_at=send_at,
        validity=60,
        replies_to_email="ops@example.com",
        tracked_link_url="https://example.com/offer",
        dlr_callback="https://example.com/dlr?order=1",
        reply_callback="https://example.com/reply",
        link_hits_callback="http://example.com/hits",
        from_shared=False,
    )
    assert handler.calls == ["send-sms"]
    assert handler.forms == [
        {
            "message": "This is my message, click on my link [tracked-link]",
            "to": "61491570156,0491570157",
            "from": "61477333222",
            "countrycode": "au",
            "send_at": send_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
            "validity": "60",
            "replies_to_email": "ops@example.com",
            "tracked_link_url": "https://example.com/offer",
            "dlr_callback": "https://example.com/dlr?order=1",
            "reply_callback": "https://example.com/reply",
            "link_hits_callback": "http://example.com/hits",
            "from_shared": "false",
        }
    ]
    assert result.message_id == 339686189
    assert result.send_at == datetime(2020, 6, 18, 9, 37, tzinfo=timezone.utc)
    assert result.cost == Decimal("0.087")
    assert result.list is None


@pytest.mark.parametrize(
    "example",
    [
        "postman/send-sms.json",
        "postman/send-sms.quickstart-dlr-callback.json",
        "postman/send-sms.quickstart-reply-callback.json",
        "captured-2015/send-sms.json",
    ],
)
async def test_send_to_one_number_returns_the_send_result(make_client: MakeClient, example: str) -> None:
    handler = Recorder(api_response(example))
    result = await make_client(handler).sms.send(message="Hello SMS", to="61477333222")
    assert handler.forms == [{"message": "Hello SMS", "to": "61477333222"}]
    assert isinstance(result, SendResult)
    assert (result.recipients, result.sms) == (1, 1)
    assert result.delivery_stats.delivered == 0


@pytest.mark.parametrize(
    ("example", "response_format", "expected_list"),
    [
        ("postman/send-sms.to-list.json", "json", ListSummary(id=4070887, name="My Test List")),
        ("postman/send-sms.xml", "xml", ListSummary(id=4070887, name="My Test List")),
        ("openapi/send-sms.xml", "xml", ListSummary(id=4070887, name="My Test List")),
        ("captured-2015/send-sms.to-list.json", "json", ListSummary(id=55314, name="untitled list")),
    ],
)
async def test_send_to_list(
    make_client: MakeClient, example: str, response_format: str, expected_list: ListSummary
) -> None:
    handler = Recorder(api_response(example))
    client = make_client(handler, response_format=response_format)
    result = await client.sms.send(message="Hi [firstname]", list_id=expected_list.id, from_="MyBrand")
    assert handler.forms == [
        {"message": "Hi [firstname]", "list_id": str(expected_list.id), "from": "MyBrand"}
    ]
    assert handler.requests[0].url.path == f"/send-sms.{response_format}"
    assert result.list == expected_list


async def test_send_deduplicates_600_numbers_down_to_500(make_client: MakeClient) -> None:
    handler = Recorder(success(message_id=1, recipients=500))
    numbers = [f"614000{n:05d}" for n in range(500)]
    await make_client(handler).sms.send(message="x", to=numbers + numbers[:100])
    assert handler.forms[0]["to"].split(",") == numbers


async def test_send_passes_fails_through(make_client: MakeClient) -> None:
    handler = Recorder(success(message_id=1, recipients=1, fails=[61400000009]))
    result = await make_client(handler).sms.send(message="x", to=["61400000001", "61400000009"])
    assert result.fails == ("61400000009",)


FUTURE = datetime.now(timezone.utc) + timedelta(days=30)
VALID: dict[str, Any] = {"message": "Hello", "to": ["61491570156"]}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"to": None}, "exactly one of to"),
        ({"list_id": 5}, "exactly one of to"),
        ({"to": []}, "at least one"),
        ({"to": [""]}, "not a phone number"),
        ({"to": ["call me"]}, "not a phone number"),
        ({"to": [61491570156]}, "as a string"),
        ({"to": 61491570156}, "iterable"),
        ({"to": [f"614000{n:05d}" for n in range(501)]}, "at most 500"),
        ({"to": None, "list_id": 0}, "list_id must be"),
        ({"to": None, "list_id": True}, "list_id must be"),
        ({"message": ""}, "message"),
        ({"message": "  \n "}, "message"),
        ({"message": None}, "message"),
        ({"message": "x" * 613}, "at most 612"),
        ({"from_": "My Brand"}, "alphanumeric"),
        ({"from_": "TwelveLetter"}, "alphanumeric"),
        ({"from_": "Brand!"}, "alphanumeric"),
        ({"from_": "1234567890123456"}, "15 digits"),
        ({"from_": ""}, "alphanumeric"),
        ({"send_at": datetime(2030, 1, 1)}, "timezone-aware"),
        ({"send_at": datetime.now(timezone.utc) - timedelta(minutes=5)}, "in the past"),
        ({"validity": -1}, "validity"),
        ({"validity": True}, "validity"),
        ({"validity": 1.5}, "validity"),
        ({"dlr_callback": "ftp://example.com/dlr"}, "http"),
        ({"reply_callback": "example.com/reply"}, "http"),
        ({"link_hits_callback": "https://exa mple.com"}, "http"),
        ({"tracked_link_url": "http://"}, "http"),
        ({"replies_to_email": "not-an-address"}, "e-mail"),
        ({"countrycode": ""}, "countrycode"),
    ],
)
async def test_send_refuses_bad_arguments_before_any_call(
    make_client: MakeClient, changes: dict[str, Any], reason: str
) -> None:
    handler = Recorder(success(message_id=1))
    with pytest.raises(InvalidRequestError, match=reason):
        await make_client(handler).sms.send(**{**VALID, **changes})
    assert handler.requests == []


async def test_send_accepts_a_comma_separated_string_and_a_future_time(make_client: MakeClient) -> None:
    handler = Recorder(success(message_id=1))
    await make_client(handler).sms.send(message="x", to="61491570156, 61491570157", send_at=FUTURE)
    assert handler.forms[0]["to"] == "61491570156,61491570157"


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (api_response("captured-2015/send-sms.error-missing-to-and-list-id.json", 400), InvalidFieldError),
        (failure("RECIPIENTS_ERROR", {"fails": ["123"], "optouts": []}), RecipientsError),
        (failure("LIST_EMPTY", "List is empty"), RecipientsError),
    ],
)
async def test_send_errors_map_to_their_classes(
    make_client: MakeClient, response: httpx.Response, error: type
) -> None:
    with pytest.raises(error):
        await make_client(Recorder(response)).sms.send(message="x", to=["61491570156"])


async def test_send_server_error_is_outcome_unknown_and_never_resent(make_client: MakeClient) -> None:
    handler = Recorder(httpx.Response(502, text="Bad gateway"))
    with pytest.raises(OutcomeUnknownError):
        await make_client(handler, max_retries=4).sms.send(message="x", to=["61491570156"])
    assert handler.calls == ["send-sms"]


async def test_send_timeout_is_outcome_unknown_and_never_resent(make_client: MakeClient) -> None:
    def time_out(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    handler = Recorder(time_out)
    with pytest.raises(OutcomeUnknownError):
        await make_client(handler).sms.send(message="x", list_id=7)
    assert len(handler.requests) == 1


@pytest.mark.parametrize(
    ("example", "response_format"), [("postman/cancel-sms.json", "json"), ("postman/cancel-sms.xml", "xml")]
)
async def test_cancel_sends_id_and_returns_true(
    make_client: MakeClient, example: str, response_format: str
) -> None:
    handler = Recorder(api_response(example))
    assert (
        await make_client(handler, response_format=response_format).sms.cancel(message_id=339814892) is True
    )
    assert handler.calls == ["cancel-sms"]
    assert handler.forms == [{"id": "339814892"}]


async def test_cancel_already_sent(make_client: MakeClient) -> None:
    handler = Recorder(api_response("captured-2015/cancel-sms.error-already-sent.json", 400))
    with pytest.raises(AlreadySentError):
        await make_client(handler).sms.cancel(message_id=27741)


@pytest.mark.parametrize(
    ("example", "response_format"), [("postman/get-sms.json", "json"), ("postman/get-sms.xml", "xml")]
)
async def test_get_returns_message_info(make_client: MakeClient, example: str, response_format: str) -> None:
    handler = Recorder(api_response(example))
    info = await make_client(handler, response_format=response_format).sms.get(message_id=339814842)
    assert handler.calls == ["get-sms"]
    assert handler.forms == [{"message_id": "339814842"}]
    assert info == MessageInfo(
        message_id=339814842,
        send_at=datetime(2020, 6, 18, 11, 17, 44, tzinfo=timezone.utc),
        recipients=1,
        cost=Decimal("0.087"),
        sms=1,
        message="This is my message, click on my link [tracked-link]",
        delivery_stats=info.delivery_stats,
    )
    assert (info.delivery_stats.delivered, info.delivery_stats.responses) == (1, 1)


async def test_get_captured_and_not_found(make_client: MakeClient) -> None:
    info = await make_client(Recorder(api_response("captured-2015/get-sms.json"))).sms.get(message_id=27746)
    assert (info.message_id, info.recipients, info.delivery_stats.pending) == (27746, 0, 1)
    with pytest.raises(NotFoundError):
        await make_client(Recorder(api_response("captured-2015/get-sms.error-not-found.json", 400))).sms.get(
            message_id=1
        )


@pytest.mark.parametrize("message_id", [0, -3, True, "12", None, 1.0])
async def test_message_ids_must_be_positive_integers(make_client: MakeClient, message_id: Any) -> None:
    handler = Recorder(success())
    client = make_client(handler)
    for method in (client.sms.get, client.sms.cancel, client.sms.stats):
        with pytest.raises(InvalidRequestError):
            await method(message_id=message_id)
    assert handler.requests == []


async def test_reply_legacy_call(make_client: MakeClient) -> None:
    handler = Recorder(api_response("captured-2015/message-reply.json"))
    result = await make_client(handler).sms.reply(
        to="61412345678", message="Testing API to field", from_="61422222222"
    )
    assert handler.calls == ["message-reply"]
    assert handler.forms == [{"to": "61412345678", "message": "Testing API to field", "from": "61422222222"}]
    assert result == "SYSTEM: Message response handled"


async def test_reply_refuses_bad_arguments(make_client: MakeClient) -> None:
    handler = Recorder(success())
    with pytest.raises(InvalidRequestError):
        await make_client(handler).sms.reply(to="nobody", message="x", from_="61422222222")
    with pytest.raises(InvalidRequestError):
        await make_client(handler).sms.reply(to="61412345678", message="", from_="61422222222")
    assert handler.requests == []


@pytest.mark.parametrize(
    ("example", "msisdn", "countrycode", "expected"),
    [
        ("postman/format-number.json", "96112234", "sg", ("6596112234", "96112234", 65)),
        ("captured-2015/format-number.json", "0455 667 889", "AU", ("61455667889", "455667889", 61)),
    ],
)
async def test_format_number(
    make_client: MakeClient, example: str, msisdn: str, countrycode: str, expected: tuple[str, str, int]
) -> None:
    handler = Recorder(api_response(example))
    number = await make_client(handler).sms.format_number(msisdn=msisdn, countrycode=countrycode)
    assert handler.calls == ["format-number"]
    digits = "".join(char for char in msisdn if char.isdigit())
    assert handler.forms == [{"msisdn": digits, "countrycode": countrycode}]  # checked, sent as plain digits
    assert isinstance(number, FormattedNumber)
    assert (number.international, number.national_number, number.countrycode) == expected
    assert number.type == NumberType.MOBILE
    assert number.is_valid


async def test_format_number_errors(make_client: MakeClient) -> None:
    handler = Recorder(api_response("captured-2015/format-number.error-field-empty.json", 400))
    with pytest.raises(InvalidFieldError):
        await make_client(handler).sms.format_number(msisdn="000000", countrycode="AU")
    local = Recorder(success())
    for typed in ("0", "٠٤٥٥٦٦٧٨٨٩", "0455\u200f667889", "0455\x00667889"):  # short, Arabic-Indic, RLM, NUL
        with pytest.raises(InvalidRequestError):
            await make_client(local).sms.format_number(msisdn=typed, countrycode="AU")
    with pytest.raises(InvalidRequestError):
        await make_client(local).sms.format_number(msisdn="", countrycode="AU")
    with pytest.raises(InvalidRequestError):
        await make_client(local).sms.format_number(msisdn="0455667889", countrycode=" ")
    assert local.requests == []
