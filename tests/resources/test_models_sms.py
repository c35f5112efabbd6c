"""SMS, reporting and account models built from every recorded payload of their calls, JSON and XML."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from support import EXAMPLES, example_bytes

from smsapi_async import AlreadySentError, ApiError, AuthenticationError, InvalidFieldError, NotFoundError
from smsapi_async._convert import as_list, to_bool, to_int
from smsapi_async._parsing import parse_body, raise_for_error
from smsapi_async.models import (
    Balance,
    ContactSmsRecord,
    DeliveryStats,
    DeliveryStatus,
    FormattedNumber,
    ListSummary,
    MessageInfo,
    MessageLogEntry,
    MessageStats,
    NumberType,
    Recipient,
    Reply,
    ReportedMessage,
    SendResult,
    UserSentMessage,
)


def load(relative: str) -> dict[str, Any]:
    """An example as the client sees it: parsed in its format, errors raised, ``error`` dropped."""
    data = parse_body(example_bytes(relative), relative.rsplit(".", 1)[-1], status_code=200, call="test")
    raise_for_error(data, status_code=200, call="test")
    data.pop("error")
    return data


def items(key: str, convert: Callable[[Any], Any]) -> Callable[[dict[str, Any]], Any]:
    return lambda data: [convert(item) for item in as_list(data.get(key))]


BUILDERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "send-sms": SendResult.from_api,
    "cancel-sms": lambda data: to_bool(data["success"]),
    "get-sms": MessageInfo.from_api,
    "get-sms-stats": lambda data: MessageStats.from_api(data["stats"]),
    "get-sms-delivery-status": lambda data: DeliveryStatus.from_api(data["stats"]),
    "get-sms-sent": lambda data: (
        MessageInfo.from_api(data["message"]),
        items("recipients", Recipient.from_api)(data),
    ),
    "get-sms-responses": items("responses", Reply.from_api),
    "get-user-sms-responses": items("responses", Reply.from_api),
    "get-user-sms-sent": items("messages", UserSentMessage.from_api),
    "get-sms-sent-count": lambda data: to_int(data["count"]),
    "get-message-report": items("messages", ReportedMessage.from_api),
    "get-contact-sms-stats": items("records", ContactSmsRecord.from_api),
    "message-reply": lambda data: str(data["result"]),
    "get-message-log": MessageLogEntry.from_api,
    "format-number": lambda data: FormattedNumber.from_api(data["number"]),
    "get-balance": Balance.from_api,
}

ERRORS = {
    "send-sms.error-missing-to-and-list-id.json": InvalidFieldError,
    "cancel-sms.error-already-sent.json": AlreadySentError,
    "get-sms.error-not-found.json": NotFoundError,
    "format-number.error-field-empty.json": InvalidFieldError,
}

OUR_FILES = sorted(
    str(path.relative_to(EXAMPLES))
    for path in EXAMPLES.glob("*/*")
    if path.suffix in (".json", ".xml") and path.name.split(".", 1)[0] in BUILDERS
)


def test_every_example_of_our_calls_is_found() -> None:
    # 16 calls; get-link-hits has no example anywhere. Guards the glob above against silently matching less.
    assert len(OUR_FILES) == 51
    assert {name.rsplit("/", 1)[-1].split(".", 1)[0] for name in OUR_FILES} == set(BUILDERS)


@pytest.mark.parametrize("relative", OUR_FILES)
def test_every_example_parses_or_raises_its_mapped_error(relative: str) -> None:
    name = relative.rsplit("/", 1)[-1]
    expected_error = ERRORS.get(name)
    if expected_error is not None:
        with pytest.raises(expected_error):
            load(relative)
        return
    built = BUILDERS[name.split(".", 1)[0]](load(relative))
    if ".empty." not in name:
        assert built not in (None, [], "")


@pytest.mark.parametrize(
    ("call", "build"),
    [
        ("cancel-sms", BUILDERS["cancel-sms"]),
        ("get-sms", MessageInfo.from_api),
        ("get-sms-stats", BUILDERS["get-sms-stats"]),
        ("get-sms-delivery-status", BUILDERS["get-sms-delivery-status"]),
        ("get-sms-sent", BUILDERS["get-sms-sent"]),
        ("get-sms-responses", BUILDERS["get-sms-responses"]),
        ("get-user-sms-responses", BUILDERS["get-user-sms-responses"]),
        ("get-balance", Balance.from_api),
    ],
)
def test_xml_twin_builds_the_same_model_as_json(call: str, build: Callable[[dict[str, Any]], Any]) -> None:
    # Model equality ignores ``extra`` (eq=False), which is the only part allowed to differ.
    assert build(load(f"postman/{call}.xml")) == build(load(f"postman/{call}.json"))


def test_openapi_send_xml_with_header_in_error_block_equals_postman_xml() -> None:
    assert SendResult.from_api(load("openapi/send-sms.xml")) == SendResult.from_api(
        load("postman/send-sms.xml")
    )


def test_send_result_from_list_send() -> None:
    result = SendResult.from_api(load("captured-2015/send-sms.to-list.json"))
    assert result.message_id == 50695
    assert result.send_at == datetime(2015, 9, 14, 7, 23, 3, tzinfo=timezone.utc)
    assert result.recipients == 1075
    assert result.cost == Decimal("58.05")
    assert result.sms == 1075
    assert result.list == ListSummary(id=55314, name="untitled list")
    assert result.delivery_stats == DeliveryStats(delivered=0, pending=0, bounced=0, responses=0, optouts=0)
    assert result.fails == ()


def test_send_result_from_xml_has_list_and_text_values_converted() -> None:
    result = SendResult.from_api(load("postman/send-sms.xml"))
    assert (result.message_id, result.recipients, result.sms) == (339683245, 1, 1)
    assert result.cost == Decimal("0.087")
    assert result.list == ListSummary(id=4070887, name="My Test List")


def test_send_result_without_list_has_none_and_keeps_fails_as_strings() -> None:
    data = {**load("postman/send-sms.json"), "fails": [61400000001, "+61400000002"]}
    result = SendResult.from_api(data)
    assert result.list is None
    assert result.fails == ("61400000001", "61400000002")
    assert SendResult.from_api({**data, "fails": {"item": "61400000003"}["item"]}).fails == ("61400000003",)


def test_message_info_keeps_template_text_and_counters() -> None:
    info = MessageInfo.from_api(load("postman/get-sms.json"))
    assert info.message == "This is my message, click on my link [tracked-link]"
    assert info.delivery_stats.delivered == 1
    assert info.delivery_stats.responses == 1
    assert MessageInfo.from_api(load("captured-2015/get-sms.json")).cost == Decimal(0)


def test_message_stats_reads_camel_case_and_hyphenated_keys() -> None:
    stats = MessageStats.from_api(
        {**load("postman/get-sms-stats.json")["stats"], "opt-outs": 3, "recipientCount": 7}
    )
    assert (stats.recipient_count, stats.optouts, stats.total, stats.link_hits) == (7, 3, 1, 0)
    assert "opt-outs" not in stats.extra
    assert MessageStats.from_api({"optouts": 2}).optouts == 2


def test_delivery_status_has_phone_numbers_as_text_and_receipt_time() -> None:
    status = DeliveryStatus.from_api(load("postman/get-sms-delivery-status.json")["stats"])
    assert status.sender_id == "61429720235"
    assert status.mobile == "61478038915"
    assert status.status == "delivered"
    assert status.status_at == datetime(2020, 6, 18, 11, 17, tzinfo=timezone.utc)
    assert status.message.endswith("TapTh.is/hO2HL7b0")
    assert DeliveryStatus.from_api({"sender_id": "TRANSMITSMS"}).sender_id == "TRANSMITSMS"


def test_recipient_names_null_or_empty_are_empty_text() -> None:
    summary, recipients = BUILDERS["get-sms-sent"](load("captured-2015/get-sms-sent.json"))
    assert summary.message_id == 27746
    assert summary.message == ""
    assert recipients[0] == Recipient(
        msisdn="61406614352", first_name="", last_name="", delivery_status="pending", optout=False
    )
    assert Recipient.from_api(
        {"msisdn": 1, "firstname": "Ella", "lastname": "B", "optout": "true"}
    ) == Recipient(msisdn="1", first_name="Ella", last_name="B", delivery_status="", optout=True)


def test_reply_optional_longcode_and_original_message() -> None:
    with_original = Reply.from_api(load("postman/get-sms-responses.json")["responses"][0])
    assert with_original.longcode == "61429720235"
    assert with_original.original_message == "This is my message, click on my link TapTh.is/hO2HL7b0"
    assert with_original.received_at == datetime(2020, 6, 23, 10, 3, 44, tzinfo=timezone.utc)
    old = Reply.from_api(load("captured-2015/get-sms-responses.json")["responses"][0])
    assert old.longcode is None
    assert old.original_message is None
    assert (old.id, old.list_id, old.first_name, old.last_name) == (157, 0, "Nathan", "Bryant")


def test_reply_lists_tolerate_a_missing_items_key_and_a_lone_xml_item() -> None:
    assert BUILDERS["get-user-sms-responses"](load("captured-2015/get-user-sms-responses.empty.json")) == []
    lone = {"responses": {"id": "5", "message_id": "6", "msisdn": "61400000000", "response": "Hi"}}
    assert [reply.id for reply in BUILDERS["get-sms-responses"](lone)] == [5]


def test_user_sent_rows() -> None:
    rows = BUILDERS["get-user-sms-sent"](load("postman/get-user-sms-sent.json"))
    assert [row.id for row in rows] == [937885838, 937885264, 937884682]
    assert rows[1] == UserSentMessage(
        id=937885264,
        message_id=373180891,
        message="Hello SMS",
        sent_at=datetime(2020, 10, 9, 0, 48, 18, tzinfo=timezone.utc),
        msisdn="61478038915",
        caller_id="61428330912",
        status="delivered",
    )


def test_message_report_rows_have_negative_cost_optional_msisdn_and_fields() -> None:
    campaign, quick = BUILDERS["get-message-report"](load("postman/get-message-report.with-list-fields.json"))
    assert campaign.cost == Decimal("-0.087")
    assert campaign.msisdn is None
    assert campaign.fields == {}
    assert (campaign.type, campaign.status, campaign.delivered, campaign.responses) == (
        "campaign",
        "completed",
        1,
        1,
    )
    assert quick.msisdn == "61478038915"
    assert (quick.first_name, quick.last_name) == ("Ella", "")
    assert quick.fields == {"City": "Sydney", "Postcode": "2000"}


@pytest.mark.parametrize(
    "fields",
    [
        {"City": "Sydney", "Postcode": 2000},
        [{"name": "City", "value": "Sydney"}, {"name": "Postcode", "value": "2000"}],
    ],
)
def test_message_report_fields_in_map_or_array_style(fields: Any) -> None:
    assert ReportedMessage.from_api({"id": 1, "fields": fields}).fields == {
        "City": "Sydney",
        "Postcode": "2000",
    }


def test_message_report_empty_fields_array() -> None:
    assert ReportedMessage.from_api({"id": 1, "fields": []}).fields == {}


def test_contact_records_parse_space_and_iso_timestamps_alike() -> None:
    postman = BUILDERS["get-contact-sms-stats"](load("postman/get-contact-sms-stats.json"))
    openapi = BUILDERS["get-contact-sms-stats"](load("openapi/get-contact-sms-stats.json"))
    assert postman == openapi
    assert postman[0] == ContactSmsRecord(
        message_id=331201546,
        sent_at=datetime(2020, 5, 14, 14, 33, 25, tzinfo=timezone.utc),
        delivery_status="delivered",
    )


def test_message_log_entry() -> None:
    entry = MessageLogEntry.from_api(load("captured-2015/get-message-log.json"))
    assert (entry.message_id, entry.mobile, entry.caller_id) == (50694, "61422222222", "61422345678")
    assert entry.sent_at == datetime(2015, 9, 14, 7, 6, 21, tzinfo=timezone.utc)


def test_formatted_number() -> None:
    number = FormattedNumber.from_api(load("postman/format-number.json")["number"])
    assert number == FormattedNumber(
        countrycode=65,
        national_number="96112234",
        international="6596112234",
        type=NumberType.MOBILE,
        is_valid=True,
    )
    assert number.is_mobile
    assert "rawinput" in number.extra
    invalid = FormattedNumber.from_api({"countrycode": "61", "type": "10", "isValid": "false"})
    assert invalid.type == NumberType.INVALID
    assert not invalid.is_mobile


def test_balance_is_decimal_with_currency() -> None:
    assert Balance.from_api(load("captured-2015/get-balance.json")) == Balance(
        balance=Decimal("496227.614"), currency="SGD"
    )
    assert Balance.from_api(load("postman/get-balance.xml")).balance == Decimal("73.954")


def test_legacy_sent_count_xml_on_one_line() -> None:
    assert load("legacy-docs/get-sms-sent-count.xml")["count"] == "1"


def test_unknown_keys_are_kept_in_extra() -> None:
    result = SendResult.from_api({"message_id": 1, "brand_new": "x"})
    assert result.extra == {"brand_new": "x"}


def test_auth_failure_example_maps_to_authentication_error() -> None:
    with pytest.raises(AuthenticationError) as caught:
        load("postman/error-auth-failed.json")
    assert isinstance(caught.value, ApiError)
