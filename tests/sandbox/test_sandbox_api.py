"""The sandbox in-process: response shapes against the recorded examples, lifecycle, errors, XML,
rate limiting and fuzzing. Time is virtual: nothing here sleeps."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import defusedxml.ElementTree as DET
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import example as pinned
from hypothesis import strategies as st

from smsapi_async.sandbox import Sandbox, SandboxConfig, VirtualClock

EXAMPLES = Path("/work/shared/api/examples")
AUTH = ("sandbox-key", "sandbox-secret")


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return data


class Kind(str):
    """A JSON value's kind; ``null`` equals every kind (a field the recording happens to leave empty)."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, str):
            return False
        return str(self) == str(other) or "null" in (str(self), str(other))

    __hash__ = str.__hash__


def shape(value: Any) -> Any:
    """Keys (in order) of objects, recursively, and the kind of each value (number, string, boolean;
    null matches any); arrays by their first element. Data-named ``fields`` maps are not compared."""
    if isinstance(value, dict):
        return [(k, None if k == "fields" else shape(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return Kind(SCALAR_KINDS[type(value)])


SCALAR_KINDS = {int: "number", float: "number", str: "string", bool: "boolean", type(None): "null"}


class Api:
    def __init__(self, client: httpx.AsyncClient, sandbox: Sandbox, clock: VirtualClock) -> None:
        self.client, self.sandbox, self.clock = client, sandbox, clock

    async def raw(self, call: str, fmt: str = "json", **params: Any) -> httpx.Response:
        data = {k: str(v) for k, v in params.items()}
        return await self.client.post(f"/{call}.{fmt}", data=data)

    async def ok(self, call: str, **params: Any) -> dict[str, Any]:
        response = await self.raw(call, **params)
        body: dict[str, Any] = response.json()
        assert response.status_code == 200, body
        assert list(body)[-1] == "error"
        assert body["error"] == {"code": "SUCCESS", "description": "OK"}
        return body

    async def fails(self, call: str, code: str, status: int = 400, **params: Any) -> str:
        response = await self.raw(call, **params)
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
        return str(response.json()["error"]["description"])


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    clock = VirtualClock()
    sandbox = Sandbox(SandboxConfig(rate_limit=0), clock=clock)
    transport = httpx.ASGITransport(sandbox.app)
    async with (
        sandbox.running(),
        httpx.AsyncClient(transport=transport, base_url="http://sandbox", auth=AUTH) as client,
    ):
        yield Api(client, sandbox, clock)


async def populate(api: Api) -> dict[str, Any]:
    """A list with custom fields and members, a delivered send with a reply, a keyword."""
    lst = await api.ok("add-list", name="Customers", field_1="Email", field_2="Postcode")
    for mobile, first in (("61491570156", "Ella"), ("61491570157", "Brad")):
        await api.ok("add-to-list", list_id=lst["id"], msisdn=mobile, first_name=first, field_1="e")
    sent = await api.ok("send-sms", message="Hi [firstname] [tracked-link]", list_id=lst["id"],
                        tracked_link_url="https://example.com")  # fmt: skip
    single = await api.ok("send-sms", message="Hello", to="61491570156")
    api.clock.advance(5)
    api.sandbox.inject_reply("61491570156", "Thanks", message_id=sent["message_id"])
    return {"list_id": lst["id"], "message_id": sent["message_id"], "single": single["message_id"]}


# --- shapes against the examples -----------------------------------------------------------------


@pytest.mark.anyio
async def test_message_calls_have_the_example_shapes(api: Api) -> None:
    ids = await populate(api)
    mid, single = ids["message_id"], ids["single"]
    sent = await api.ok("send-sms", message="x", to="61491570150")
    assert shape(sent) == shape(example("postman/send-sms.json"))
    sms = await api.ok("get-sms", message_id=single)
    assert shape(sms) == shape(example("postman/get-sms.json"))
    assert (
        shape(await api.ok("get-sms", message_id=mid))[:6]
        == shape(example("postman/send-sms.to-list.json"))[:6]
    )
    stats = await api.ok("get-sms-stats", message_id=mid)
    assert shape(stats) == shape(example("postman/get-sms-stats.json"))
    sent_rows = await api.ok("get-sms-sent", message_id=single)
    assert shape(sent_rows) == shape(example("postman/get-sms-sent.json"))
    status = await api.ok("get-sms-delivery-status", message_id=single, msisdn="61491570156")
    assert shape(status) == shape(example("postman/get-sms-delivery-status.json"))
    responses = await api.ok("get-sms-responses", message_id=mid, include_original="true")
    assert shape(responses) == shape(example("postman/get-sms-responses.json"))
    user_responses = await api.ok("get-user-sms-responses")
    assert shape(user_responses) == shape(example("postman/get-user-sms-responses.json"))
    window = {"start": "2023-12-31 00:00:00", "end": "2024-01-02 00:00:00"}
    user_sent = await api.ok("get-user-sms-sent", **window)
    assert shape(user_sent) == shape(example("postman/get-user-sms-sent.json"))
    count = await api.ok("get-sms-sent-count")
    assert shape(count) == shape(example("postman/get-sms-sent-count.json"))
    report = await api.ok("get-message-report", type="api")
    expected = example("postman/get-message-report.json")
    expected["messages"] = expected["messages"][1:]  # the single-recipient row has msisdn
    assert shape(report) == shape(expected)
    contact = await api.ok("get-contact-sms-stats", mobile="61491570156")
    assert shape(contact) == shape(example("postman/get-contact-sms-stats.json"))
    log = await api.ok("get-message-log", message_id=single, mobile="61491570156")
    assert shape(log) == shape(example("captured-2015/get-message-log.json"))
    reply = await api.ok("message-reply", message="ok", to="61491570156")
    assert shape(reply) == shape(example("captured-2015/message-reply.json"))


@pytest.mark.anyio
async def test_list_calls_have_the_example_shapes(api: Api) -> None:
    ids = await populate(api)
    lid = ids["list_id"]
    assert shape(await api.ok("get-lists")) == shape(example("postman/get-lists.json"))
    get_list = await api.ok("get-list", list_id=lid)
    expected = shape(example("postman/get-list.json"))
    assert [k for k, _ in shape(get_list)] == [k for k, _ in expected]
    added = await api.ok("add-list", name="New", field_1="Email", field_2="Postcode")
    assert shape(added) == shape(example("postman/add-list.json"))
    empty = await api.ok("add-list", name="Plain")
    assert empty["fields"] == []
    member = await api.ok("add-to-list", list_id=lid, msisdn="0491570158", countrycode="au")
    assert shape(member) == shape(example("postman/add-to-list.json"))
    assert member["msisdn"] == 61491570158
    field = await api.ok("add-field-to-list", list_id=lid, field_4="Handset")
    assert shape(field) == shape(example("postman/add-field-to-list.json"))
    array = await api.ok("add-field-to-list", list_id=lid, field_4="X", response_style="array")
    assert shape(array) == shape(example("postman/add-field-to-list.response-style-array.json"))
    edited = await api.ok("edit-list-member", list_id=lid, msisdn="61491570158", field_1="Optus")
    assert shape(edited) == shape(example("postman/edit-list-member.json"))
    plain_member = await api.ok("add-to-list", list_id=empty["id"], msisdn="61491570158")
    assert shape(plain_member) == shape(example("captured-2015/add-to-list.json"))
    got = await api.ok("get-contact", list_id=empty["id"], msisdn="61491570158")
    assert shape(got) == shape(example("postman/get-contact.json"))
    removed = await api.ok("delete-from-list", list_id=lid, msisdn="61491570158")
    assert shape(removed) == shape(example("postman/delete-from-list.json"))
    optout = await api.ok("optout-list-member", list_id=lid, msisdn="61491570157")
    assert shape(optout) == shape(example("postman/optout-list-member.json"))
    assert shape(await api.ok("remove-list", list_id=empty["id"])) == shape(
        example("postman/remove-list.json")
    )


@pytest.mark.anyio
async def test_account_calls_have_the_example_shapes(api: Api) -> None:
    await populate(api)
    number = "61400000000"
    cases = {
        "get-balance": ({}, "postman/get-balance.json"),
        "get-numbers": ({}, "postman/get-numbers.json"),
        "get-number": ({"number": number}, "postman/get-number.json"),
        "lease-number": ({}, "postman/lease-number.json"),
        "edit-number-options": (
            {"number": number, "forward_url": "http://x.io"},
            "postman/edit-number-options.json",
        ),
        "add-keyword": ({"keyword": "NEWS", "number": number}, "postman/add-keyword.json"),
        "edit-keyword": (
            {"keyword": "news", "number": number, "status": "Closed"},
            "postman/edit-keyword.json",
        ),
        "get-keywords": ({}, "postman/get-keywords.json"),
        "add-email": ({"email": "a@example.com"}, "postman/add-email.json"),
        "delete-email": ({"email": "*@example.com"}, "postman/delete-email.json"),
        "add-client": (
            {"name": "C", "email": "c@example.com", "password": "p", "msisdn": "61491570100"},
            "captured-2015/get-client.json",
        ),
        "get-clients": ({}, "captured-2015/get-clients.json"),
    }
    for call, (params, name) in cases.items():
        assert shape(await api.ok(call, **params)) == shape(example(name)), call
    me = api.sandbox.account().id
    assert shape(await api.ok("get-client")) == shape(example("captured-2015/get-client.json"))
    transactions = await api.ok("get-transactions", client_id=me)
    assert shape(transactions) == shape(example("captured-2015/get-transactions.json"))
    one = await api.ok("get-transaction", id=transactions["transactions"][0]["id"])
    assert shape(one) == shape(example("captured-2015/get-transaction.json"))
    fmt = await api.ok("format-number", msisdn="96112234", countrycode="SG")
    assert fmt == example("postman/format-number.json")


@pytest.mark.anyio
async def test_bulk_import_runs_in_the_background(api: Api) -> None:
    csv = "data:text/csv,mobile,firstname%0A61491570111,Bob%0Ajunk,x%0A61491570111,Bob"
    started = await api.ok("add-contacts-bulk", name="Imported", file_url=csv)
    assert shape(started) == shape(example("postman/add-contacts-bulk.json"))
    await api.sandbox.settle()
    progress = await api.ok("add-contacts-bulk-progress", list_id=started["list_id"])
    assert shape(progress) == shape(example("postman/add-contacts-bulk-progress.json"))
    assert progress | {"error": None} == {
        "list_id": started["list_id"], "status": "completed", "importlength": 3, "completed": 3,
        "duplicates": 1, "skipped": 1, "optout": 0, "imported": 1, "error": None,
    }  # fmt: skip


# --- lifecycle --------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_delivery_states_follow_the_number_rules_and_time(api: Api) -> None:
    sent = await api.ok("send-sms", message="hi", to="61491570151,61491570158,61491570159")
    assert sent["delivery_stats"]["pending"] == 0  # the send-sms answer counts nothing yet, as recorded
    api.clock.advance(1.9)
    assert (await api.ok("get-sms-stats", message_id=sent["message_id"]))["stats"]["pending"] == 3
    api.clock.advance(0.1)
    stats = (await api.ok("get-sms-stats", message_id=sent["message_id"]))["stats"]
    assert (stats["delivered"], stats["soft_bounced"], stats["hard_bounced"]) == (1, 1, 1)
    assert stats["bounced"] == 2
    assert stats["recipientCount"] == 3
    failed = await api.ok("get-sms-sent", message_id=sent["message_id"], delivery="failed")
    assert {r["delivery_status"] for r in failed["recipients"]} == {"soft-bounce", "hard-bounce"}


@pytest.mark.anyio
async def test_scheduled_message_can_be_cancelled_until_it_is_sent(api: Api) -> None:
    before = (await api.ok("get-balance"))["balance"]
    later = await api.ok("send-sms", message="later", to="61491570151", send_at="2024-01-01 01:00:00")
    assert later["send_at"] == "2024-01-01 01:00:00"
    assert await api.ok("cancel-sms", id=later["message_id"]) == example("postman/cancel-sms.json")
    assert (await api.ok("get-balance"))["balance"] == before
    desc = await api.fails("cancel-sms", "ALREADY_SENT", id=later["message_id"])
    assert desc == "This message is already sent or can not be cancelled"
    scheduled = await api.ok("send-sms", message="x", to="61491570151", send_at="2024-01-01 00:00:10")
    api.clock.advance(10)
    await api.fails("cancel-sms", "ALREADY_SENT", id=scheduled["message_id"])


@pytest.mark.anyio
async def test_cost_counts_parts_times_recipients(api: Api) -> None:
    cases = [("a" * 160, 1), ("a" * 161, 2), ("{" * 80, 1), ("{" * 81, 2), ("é" * 160, 1),
             ("ä" * 70 + "Ж", 2), ("Ж" * 70, 1), ("😀" * 35, 1), ("a" * 306, 2), ("a" * 307, 3)]  # fmt: skip
    for text, parts in cases:
        sent = await api.ok("send-sms", message=text, to="61491570151,61491570152")
        assert sent["sms"] == 2 * parts, text
        assert sent["cost"] == pytest.approx(round(2 * parts * 0.087, 3))


@pytest.mark.anyio
async def test_balance_running_out_gives_ledger_error_without_side_effect(api: Api) -> None:
    api.sandbox.account().balance = 0.1
    await api.ok("send-sms", message="one", to="61491570151")
    await api.fails("send-sms", "LEDGER_ERROR", message="two", to="61491570151")
    assert len(api.sandbox.state.messages) == 1


@pytest.mark.anyio
async def test_opted_out_numbers_are_not_sent_to(api: Api) -> None:
    sent = await api.ok("send-sms", message="hi", to="61491570151,61491570152")
    api.clock.advance(3)
    response = api.sandbox.inject_reply("61491570151", "stop please")
    assert response.is_optout
    assert response.message_id == sent["message_id"]
    again = await api.ok("send-sms", message="again", to="61491570151,61491570152")
    assert again["recipients"] == 1
    await api.fails("send-sms", "RECIPIENTS_ERROR", message="x", to="61491570151,garbage")
    stats = await api.ok("get-sms-stats", message_id=sent["message_id"])
    assert stats["stats"]["opt-outs"] == 1
    only = await api.ok("get-sms-sent", message_id=sent["message_id"], optouts="only")
    assert [r["msisdn"] for r in only["recipients"]] == [61491570151]


@pytest.mark.anyio
async def test_documented_errors(api: Api) -> None:
    desc = await api.fails("send-sms", "FIELD_INVALID", message="hi")
    assert desc == "You must provide either 'list_id' or 'to'"
    assert await api.fails("format-number", "FIELD_EMPTY", countrycode="AU") == (
        "Required field 'msisdn' is empty"
    )
    await api.fails("get-sms-delivery-status", "FIELD_EMPTY", message_id=1)
    assert await api.fails("get-sms", "NOT_FOUND", message_id=12345) == (
        "Message with this ID does not exist"
    )
    await api.fails("get-sms", "FIELD_INVALID", message_id="abc")
    bad_sender: dict[str, Any] = {"message": "x", "to": "61491570151", "from": "bad id!"}
    await api.fails("send-sms", "BAD_CALLER_ID", **bad_sender)
    empty = await api.ok("add-list", name="Empty")
    await api.fails("send-sms", "LIST_EMPTY", message="x", list_id=empty["id"])
    await api.fails("add-list", "KEY_EXISTS", name="Empty")
    await api.fails("lease-number", "FIELD_INVALID", number="61400000000")
    await api.fails("get-number", "FIELD_INVALID", number="61499999999")
    await api.fails("add-field-to-list", "MISSING_PARAM", list_id=empty["id"])
    await api.fails("no-such-call", "NOT_IMPLEMENTED", 404)
    client: dict[str, Any] = {"name": "A", "email": "x@example.com", "password": "p", "msisdn": "61491570100"}
    await api.ok("add-client", **client)
    assert await api.fails("add-client", "KEY_EXISTS", **(client | {"name": "B"})) == "User already exists"
    response = await api.client.post("/get-balance")  # no suffix
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_IMPLEMENTED"


@pytest.mark.anyio
async def test_authentication(api: Api) -> None:
    bare = httpx.AsyncClient(transport=httpx.ASGITransport(api.sandbox.app), base_url="http://s")
    async with bare:
        missing = await bare.get("/get-balance.json")
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "AUTH_FAILED_NO_DATA"
        wrong = await bare.get("/get-balance.json", auth=("sandbox-key", "nope"))
        assert wrong.json() == example("postman/error-auth-failed.json")
        assert wrong.status_code == 401
        junk = await bare.get("/get-balance.json", headers={"authorization": "Basic %%%"})
        assert junk.status_code == 401
        client = await api.ok("add-client", name="C", email="c@example.com", password="p",
                              msisdn="61491570100")  # fmt: skip
        as_client = await bare.get("/get-balance.json", auth=(client["apikey"], client["apisecret"]))
        assert as_client.json()["balance"] == 0
        denied = await bare.get("/get-clients.json", auth=(client["apikey"], client["apisecret"]))
        assert denied.json()["error"]["code"] == "NO_ACCESS"


@pytest.mark.anyio
async def test_pagination_clamps_max_and_empty_pages_omit_items(api: Api) -> None:
    for n in range(12):
        await api.ok("add-list", name=f"L{n}")
    first = await api.ok("get-lists")
    assert first["page"] == {"count": 2, "number": 1}
    assert len(first["lists"]) == 10
    assert first["lists_total"] == 12
    beyond = await api.ok("get-lists", page=3)
    assert beyond["page"] == {"count": 2, "number": 3}
    assert "lists" not in beyond
    big = await api.ok("get-lists", max=1000)
    assert len(big["lists"]) == 12
    await api.fails("get-lists", "FIELD_INVALID", page=-1)  # 0 is the first page, as PHP examples send


# --- XML ------------------------------------------------------------------------------------------


def xml_to_obj(element: Any) -> Any:
    children = list(element)
    if not children:
        return element.text
    if all(c.tag == "item" for c in children):
        return [xml_to_obj(c) for c in children]
    return {c.tag: xml_to_obj(c) for c in children}


def stringify(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: stringify(v) for k, v in value.items()} or None
    if isinstance(value, list):
        return [stringify(v) for v in value] or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or value == "":
        return None
    return str(value)


@pytest.mark.anyio
async def test_xml_mirrors_json(api: Api) -> None:
    ids = await populate(api)
    calls = [
        ("get-sms-sent", {"message_id": ids["message_id"]}),
        ("get-sms-stats", {"message_id": ids["message_id"]}),
        ("get-list", {"list_id": ids["list_id"]}),
        ("get-balance", {}),
        ("get-sms", {"message_id": 1}),
        ("get-clients", {}),
    ]
    for call, params in calls:
        as_json = (await api.raw(call, **params)).json()
        response = await api.raw(call, "xml", **params)
        assert response.headers["content-type"] == "text/xml; charset=utf-8"
        assert response.text.startswith('<?xml version="1.0"?>\n<response>')
        root = DET.fromstring(response.content)
        assert root.tag == "response"
        assert list(root)[-1].tag == "error"
        assert xml_to_obj(root) == stringify(as_json), call
    xml = (await api.raw("get-list", "xml", list_id=ids["list_id"])).text
    assert "<Email>e</Email>" in xml


# --- rate limiting ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_rate_limit_is_a_strict_sliding_window_and_drops_requests() -> None:
    clock = VirtualClock()
    sandbox = Sandbox(SandboxConfig(rate_limit=2), clock=clock)
    transport = httpx.ASGITransport(sandbox.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://s", auth=AUTH) as client:

        async def send() -> httpx.Response:
            return await client.post("/send-sms.json", data={"message": "x", "to": "61491570151"})

        assert (await send()).status_code == 200
        clock.advance(0.5)
        assert (await send()).status_code == 200
        refused = await send()
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "OVER_LIMIT"
        assert len(sandbox.state.messages) == 2  # dropped: no side effect
        clock.advance(0.4999)
        assert (await send()).status_code == 429
        clock.advance(0.0001)  # exactly one second after the first accepted request
        assert (await send()).status_code == 200
        assert (await send()).status_code == 429
        clock.advance(0.5)
        assert (await send()).status_code == 200
    assert len(sandbox.state.messages) == 4
    codes = [entry["code"] for entry in sandbox.requests]
    assert codes.count("OVER_LIMIT") == 3


# --- malformed requests -----------------------------------------------------------------------------

_FUZZ_SANDBOX = Sandbox(SandboxConfig(rate_limit=0, max_body_bytes=2000), clock=VirtualClock())
_CALLS = ["send-sms", "get-sms", "get-list", "add-to-list", "get-sms-sent", "add-client",
          "format-number", "get-user-sms-sent", "edit-keyword", "get-transactions", "x"]  # fmt: skip
_PARAM_NAMES = ["message", "to", "list_id", "message_id", "msisdn", "page", "max", "from",
                "send_at", "countrycode", "field_1", "name", "email", "client_id", "start"]  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
# the case that once failed: an unknown call with the .xml suffix is answered in XML (the test used to
# expect every 404 in JSON); pinned so it runs every time instead of when Hypothesis happens to draw it
@pinned(call="x", fmt=".xml", method="GET", params={}, body=b"", content_type="", auth="good")
@pinned(call="get-sms", fmt=".xml", method="PUT", params={}, body=b"", content_type="", auth="good")
@given(
    call=st.sampled_from(_CALLS),
    fmt=st.sampled_from([".json", ".xml", "", ".JSON", "/"]),
    method=st.sampled_from(["GET", "POST", "PUT"]),
    params=st.dictionaries(st.sampled_from(_PARAM_NAMES), st.text(max_size=30), max_size=5),
    body=st.binary(max_size=3000),
    content_type=st.sampled_from(
        ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain", ""]
    ),
    auth=st.sampled_from([None, "good", "Basic !!", "Bearer x"]),
)
def test_malformed_requests_never_crash(
    call: str,
    fmt: str,
    method: str,
    params: dict[str, str],
    body: bytes,
    content_type: str,
    auth: str | None,
) -> None:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(_FUZZ_SANDBOX.app)
        headers = {"content-type": content_type}
        if auth == "good":
            headers["authorization"] = httpx.BasicAuth(*AUTH)._auth_header
        elif auth:
            headers["authorization"] = auth
        async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
            return await client.request(method, f"/{call}{fmt}", params=params, content=body, headers=headers)

    response = anyio.run(run)
    assert response.status_code in (200, 400, 401, 404, 429)
    if fmt == ".xml":  # a recognised suffix: every answer, errors included, is in that format
        assert response.headers["content-type"].startswith("text/xml")
        assert DET.fromstring(response.content).find("error/code") is not None
    else:
        assert "error" in response.json()
