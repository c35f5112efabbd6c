"""The typed methods against the published contract of the V1 API (``transmit-sms-v1.json``, shipped in
``smsapi_async/sandbox/`` because the sandbox checks parameters against it; see ``contract_derive.py`` beside
this file for where its facts come from).

For every public method, called with each of its parameters in turn, every request it sends names a
call of the contract, and each parameter it sends is one the contract lists for that call, with a
value of the contract's type and, where the contract enumerates the values, one of them; the few
exceptions are in :data:`EXCEPTIONS`, each with its evidence. Calls the current specification no
longer lists are marked legacy in the docstrings of the methods that make them. Every JSON example
with an XML twin parses through the typed method to equal values.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import attrs
import httpx
import pytest
from support import EXAMPLES, ROOT, Recorder, call_name, form_of, success
from test_public_inputs import GOOD, METHODS, run

from smsapi_async import AsyncSmsClient, InvalidRequestError, SmsApiError

pytestmark = pytest.mark.anyio

CONTRACT: dict[str, Any] = json.loads(
    (ROOT / "smsapi_async" / "sandbox" / "transmit-sms-v1.json").read_text("utf-8")
)
CALLS: dict[str, Any] = CONTRACT["calls"]

EXCEPTIONS: dict[tuple[str, str], str] = {
    # (call, parameter) or (call, "parameter=value") the typed methods send beyond the contract
    ("send-sms", "from_shared"): "official C# and Go clients; marked undocumented in sms.send",
    ("get-sms-sent-count", "client_id"): "an older help article for resellers; marked undocumented",
    ("get-list", "members=all"): "the Postman collection's text; marked undocumented in lists.members",
    ("get-sms-sent", "delivery=all"): "the official PHP client's default value for the filter",
}

_TYPES: dict[str, Callable[[str], bool]] = {
    "integer": lambda v: re.fullmatch(r"-?[0-9]{1,19}", v) is not None and abs(int(v)) < 2**63,
    "number": lambda v: re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", v) is not None,
    "boolean": lambda v: v in ("true", "false"),
    "datetime": lambda v: (
        re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}", v) is not None
    ),
    "date": lambda v: re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", v) is not None,
    "url": lambda v: v.startswith(("http://", "https://")),
    "email": lambda v: "@" in v,
    "string": lambda v: True,
}


VALUES: dict[tuple[str, str, str], list[Any]] = {
    # good values a parameter name takes in one method only (GOOD gives none for these)
    ("keywords", "edit", "status"): ["Open", "closed"],
    ("lists", "members", "status"): ["active", "inactive", "all"],
}
ALL_FIELDS = [{f"field_{n}": f"value {n}" for n in range(1, 11)}]
BASES: dict[tuple[str, str], list[dict[str, Any]]] = {
    # methods that need one of their optional parameters (or a pair of them)
    ("sms", "responses"): [{"message_id": 1}, {"keyword": "NEWS", "number": "61400000100"}],
    ("sms", "send"): [{"to": "61400000001"}, {"list_id": 1}],
    ("lists", "import_contacts"): [{"list_id": 1}, {"name": "Guests"}],
}


def parameters(method: Callable[..., Any]) -> tuple[dict[str, Any], list[str]]:
    """The required arguments (good values) and the names of the optional ones."""
    required: dict[str, Any] = {}
    optional: list[str] = []
    for param in inspect.signature(method).parameters.values():
        if param.default is inspect.Parameter.empty:
            required[param.name] = ALL_FIELDS[0] if param.name == "fields" else GOOD[param.name][0]
        elif param.name in GOOD and param.name not in ("page_size", "start_page", "limit"):
            optional.append(param.name)
    return required, optional


async def sent_by(area: str, name: str) -> list[httpx.Request]:
    """What the method sends with its required arguments, then with each optional one added."""
    handler = Recorder(success())
    async with AsyncSmsClient("k", "s", transport=httpx.MockTransport(handler), rate_limit=None) as client:
        method = getattr(getattr(client, area), name)
        required, optional = parameters(method)
        for base in BASES.get((area, name), [{}]):
            for extra in [None, *optional]:
                good = ALL_FIELDS if extra == "fields" else GOOD[extra] if extra else [None]
                for value in VALUES.get((area, name, extra or ""), good):
                    kwargs = {**required, **base} if extra is None else {**required, **base, extra: value}
                    try:
                        await run(method(**kwargs))
                    except InvalidRequestError:
                        continue  # a combination the method refuses (e.g. two filters at once)
                    except (SmsApiError, AttributeError, TypeError, KeyError):
                        pass  # the canned success does not fit every model: what was sent is the point
    return handler.requests


@pytest.mark.parametrize(("area", "name"), METHODS, ids=[f"{a}.{n}" for a, n in METHODS])
async def test_what_each_method_sends_is_in_the_contract(area: str, name: str) -> None:
    requests = await sent_by(area, name)
    assert requests, f"{area}.{name} sent nothing with good arguments"
    for request in requests:
        call = call_name(request)
        assert call in CALLS, f"{area}.{name} calls {call!r}, which the contract does not have"
        spec = CALLS[call]["params"]
        for key, value in form_of(request).items():
            if key in ("page", "max") and key not in spec:
                continue  # paginated calls all take them; some contract entries leave them out
            if (call, key) in EXCEPTIONS or (call, f"{key}={value}") in EXCEPTIONS:
                continue
            assert key in spec, f"{area}.{name} sends {key!r} to {call}, which the contract does not list"
            kind = spec[key]["type"]
            assert _TYPES[kind](value), (
                f"{call}.{key} is {kind} in the contract; {area}.{name} sent {value!r}"
            )
            if "enum" in spec[key]:
                assert value in spec[key]["enum"], f"{call}.{key}={value!r} is not one of {spec[key]['enum']}"


NOT_SENT: dict[tuple[str, str], str] = {
    # parameters of the contract no typed method sends, and why
}


async def test_every_parameter_of_the_current_contract_can_be_sent() -> None:
    sent: dict[str, set[str]] = {}
    for area, name in METHODS:
        for request in await sent_by(area, name):
            sent.setdefault(call_name(request), set()).update(form_of(request))
    missing = {
        (call, param)
        for call, facts in CALLS.items()
        if facts["in_current_spec"]
        for param in facts["params"]
        if param not in sent.get(call, set()) and (call, param) not in NOT_SENT
    }
    assert missing == set()


def test_every_exception_is_still_needed_and_every_contract_call_has_a_method() -> None:
    # the exceptions name real calls, and every call of the current specification is made by a method
    for call, _ in EXCEPTIONS:
        assert call in CALLS
    made = set()
    for area, name in METHODS:
        source = inspect.getsource(getattr(getattr(AsyncSmsClient("k", "s"), area), name))
        made.update(re.findall(r'"([a-z]+(?:-[a-z]+)+)"', source))
    source = "".join(
        inspect.getsource(module) for module in _resource_modules()
    )  # calls named in module-level helpers too
    made.update(re.findall(r'"([a-z]+(?:-[a-z]+)+)"', source))
    missing = {call for call, facts in CALLS.items() if facts["in_current_spec"] and call not in made}
    assert missing == set()


def _resource_modules() -> list[Any]:
    import smsapi_async.resources as resources  # noqa: PLC0415

    return [module for module in vars(resources).values() if inspect.ismodule(module)] or [
        __import__(f"smsapi_async.resources.{n}", fromlist=["x"])
        for n in ("sms", "reports", "lists", "numbers", "keywords", "email", "account", "resellers")
    ]


LEGACY = sorted(call for call, facts in CALLS.items() if not facts["in_current_spec"])


@pytest.mark.parametrize("call", LEGACY)
def test_a_call_the_current_specification_does_not_list_is_marked_legacy(call: str) -> None:
    client = AsyncSmsClient("k", "s")
    for area, name in METHODS:
        method = getattr(getattr(client, area), name)
        source = inspect.getsource(method)
        if f'"{call}"' in source:
            doc = (method.__doc__ or "") + (type(getattr(client, area)).__doc__ or "")
            assert "legacy" in doc.lower(), f"{area}.{name} makes {call} without saying it is legacy"


# --- every JSON example and its XML twin through the typed method --------------------------------------

RECORDED = sorted(  # recorded answers (the hand-written samples of old articles are not valid JSON or XML)
    path.relative_to(EXAMPLES).as_posix()
    for path in [*EXAMPLES.glob("*/*.json"), *EXAMPLES.glob("*/*.xml")]
    if path.parent.name != "legacy-docs" and ".error" not in path.name
)


def as_xml(value: Any) -> str:
    """The API's XML for a JSON value: every scalar as text, lists as ``<item>``, null and empty as
    self-closing tags."""
    if isinstance(value, dict):
        return "".join(f"<{key}>{as_xml(item)}</{key}>" for key, item in value.items())
    if isinstance(value, list):
        return "".join(f"<item>{as_xml(item)}</item>" for item in value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


READ: dict[str, Callable[[AsyncSmsClient], Any]] = {
    "add-contacts-bulk": lambda c: c.lists.import_contacts("https://x.test/a.csv", list_id=1),
    "add-contacts-bulk-progress": lambda c: c.lists.import_progress(1),
    "add-email": lambda c: c.email.add("a@b.co"),
    "add-field-to-list": lambda c: c.lists.add_field(1, {"field_1": "Email"}),
    "add-keyword": lambda c: c.keywords.add("NEWS", "61400000100"),
    "add-list": lambda c: c.lists.add("Guests"),
    "add-to-list": lambda c: c.lists.add_contact(1, "61400000001"),
    "cancel-sms": lambda c: c.sms.cancel(1),
    "delete-email": lambda c: c.email.delete("a@b.co"),
    "delete-from-list": lambda c: c.lists.delete_contact(1, "61400000001"),
    "edit-keyword": lambda c: c.keywords.edit("NEWS", "61400000100"),
    "edit-list-member": lambda c: c.lists.edit_contact(1, "61400000001", first_name="Ann"),
    "edit-number-options": lambda c: c.numbers.edit_options("61400000100", forward_url="https://x.test/"),
    "get-balance": lambda c: c.account.balance(),
    "get-contact-sms-stats": lambda c: c.sms.contact_stats("61400000001").first_page(),
    "get-keywords": lambda c: c.keywords.list().first_page(),
    "get-list": lambda c: c.lists.get(1),
    "get-lists": lambda c: c.lists.list().first_page(),
    "get-number": lambda c: c.numbers.get("61400000100"),
    "get-numbers": lambda c: c.numbers.list().first_page(),
    "get-sms": lambda c: c.sms.get(1),
    "get-sms-delivery-status": lambda c: c.sms.delivery_status(1, "61400000001"),
    "get-sms-responses": lambda c: c.sms.responses(message_id=1).first_page(),
    "get-sms-sent": lambda c: c.sms.sent(1).first_page(),
    "get-sms-sent-count": lambda c: c.sms.sent_count(),
    "get-sms-stats": lambda c: c.sms.stats(1),
    "get-user-sms-responses": lambda c: c.sms.user_responses().first_page(),
    "get-client": lambda c: c.resellers.get_client(1),
    "get-clients": lambda c: c.resellers.clients().first_page(),
    "get-transactions": lambda c: c.resellers.transactions(1).first_page(),
    "lease-number": lambda c: c.numbers.lease(),
    "optout-list-member": lambda c: c.lists.optout(1, "61400000001"),
    "remove-list": lambda c: c.lists.remove(1),
    "send-sms": lambda c: c.sms.send(message="hi", to="61400000001"),
    "format-number": lambda c: c.sms.format_number(msisdn="0400000001", countrycode="AU"),
    "get-contact": lambda c: c.lists.get_contact(1, "61400000001"),
    "get-message-log": lambda c: c.sms.message_log(1, "61400000001"),
    "get-message-report": lambda c: c.sms.message_report().first_page(),
    "get-transaction": lambda c: c.resellers.get_transaction(1),
    "get-user-sms-sent": lambda c: c.sms.user_sent(
        start=datetime(2020, 1, 1, tzinfo=timezone.utc), end=datetime(2020, 1, 2, tzinfo=timezone.utc)
    ).first_page(),
    "message-reply": lambda c: c.sms.reply(to="61400000001", message="hi", from_="61400000100"),
}
SNIPPETS = {"error-auth-failed", "page-block"}  # parts of the collection's introduction, not answers


def _call_of(example: str) -> str:
    return example.split("/", 1)[1].split(".", 1)[0]


def _plain(value: Any) -> Any:
    """A result's modelled values as comparable data (models to dicts, pages to their items); what
    a model keeps as sent (``extra``, a page's ``data``) is left out: XML sends it all as text."""
    if attrs.has(type(value)):
        fields = attrs.asdict(value, recurse=False)
        return {k: _plain(v) for k, v in fields.items() if k not in ("extra", "data")}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


async def read(call: str, body: bytes, response_format: str) -> Any:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    async with AsyncSmsClient(
        "k",
        "s",
        transport=transport,
        rate_limit=None,
        response_format=response_format,  # type: ignore[arg-type]
    ) as client:
        return _plain(await READ[call](client))


@pytest.mark.parametrize("example", [e for e in RECORDED if _call_of(e) not in SNIPPETS])
async def test_each_example_parses_through_its_typed_method_alike_in_json_and_xml(example: str) -> None:
    # the recorded answer is read; and the same data as the API's XML reads to equal values
    call, body = _call_of(example), (EXAMPLES / example).read_bytes()
    result = await read(call, body, example.rsplit(".", 1)[1])
    if example.endswith(".json"):
        data = json.loads(body)
        xml = f"<?xml version='1.0' encoding='UTF-8'?><response>{as_xml(data)}</response>".encode()
        assert await read(call, xml, "xml") == result


def test_every_recorded_example_has_a_typed_reading() -> None:
    unread = {_call_of(e) for e in RECORDED} - set(READ) - SNIPPETS
    assert unread == set()
