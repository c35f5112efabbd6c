"""What importing the package and constructing a client load: only the request path.

`import smsapi_async` loads no HTTP stack until a name is used; constructing an `AsyncSmsClient`
loads the request path (httpx, the limiter, parsing) and nothing else: each resource loads with its
models on first use of `client.<resource>`, and the bulk engine, delivery tracking, webhooks, event
hooks and the rest only when used. Counted as modules in `sys.modules` of a fresh interpreter, so
the tests are deterministic; the time it takes is measured by `benchmarks.peers.import_time`.
"""

from __future__ import annotations

import functools
import importlib
import json
import subprocess
import sys

import httpx
import pytest

import smsapi_async

CONSTRUCT = "from smsapi_async import AsyncSmsClient\nclient = AsyncSmsClient(api_key='k', api_secret='s')\n"

CALL_WITHOUT_HOOKS = (
    "import anyio, httpx\n"
    "from smsapi_async import AsyncSmsClient\n"
    "answer = httpx.Response(200, json={'balance': 1.5, 'currency': 'AUD', 'error': "
    "{'code': 'SUCCESS', 'description': 'OK'}})\n"
    "async def main():\n"
    "    async with AsyncSmsClient('k', 's', transport=httpx.MockTransport(lambda r: answer)) as c:\n"
    "        assert (await c.account.balance()).currency == 'AUD'\n"
    "anyio.run(main)\n"
)
"""One ``get-balance`` call through httpx (a mock transport) by a client without event hooks."""

OPTIONAL = (
    "smsapi_async._analysis",
    "smsapi_async._bulk",
    "smsapi_async._events",
    "smsapi_async._journal",
    "smsapi_async._redis_limiter",
    "smsapi_async.cli",
    "smsapi_async.events",
    "smsapi_async.otel",
    "smsapi_async.sandbox",
    "smsapi_async.testing",
    "smsapi_async.tracking",
    "smsapi_async.webhooks",
)
"""Modules (and packages, with everything under them) no client loads until they are used."""

RESOURCES = ("account", "email", "keywords", "lists", "numbers", "reports", "resellers", "sms")
MODELS = ("account", "delivery", "email", "keywords", "lists", "numbers", "reports", "resellers", "sms")


def fresh_python(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    ).stdout.strip()


def modules_after(code: str) -> set[str]:
    return set(json.loads(fresh_python(f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))")))


@functools.cache
def at_startup() -> frozenset[str]:
    """What a fresh interpreter holds before any code runs: a site hook (a ``.pth`` file installing a
    CA bundle, say) may load ``certifi`` or more, and that is the machine's cost, not ours."""
    return frozenset(modules_after(""))


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter loads by running ``code``, beyond those it starts with."""
    return modules_after(code) - at_startup()


def ours(modules: set[str], *packages: str) -> set[str]:
    """The modules of ``modules`` that are one of ``packages`` or inside one."""
    return {m for m in modules if any(m == p or m.startswith(p + ".") for p in packages)}


def test_importing_the_package_loads_no_http_stack_until_a_name_is_used() -> None:
    loaded = loaded_after("import smsapi_async")
    assert not loaded & {"httpx", "httpcore", "attrs", "anyio", "smsapi_async._client"}


def test_constructing_a_client_loads_no_resource_model_or_optional_module() -> None:
    loaded = loaded_after(CONSTRUCT)
    assert "smsapi_async._client" in loaded
    assert ours(loaded, "smsapi_async.resources", "smsapi_async.models", *OPTIONAL) == set()
    # nor the helpers of the resources (pagination, model conversion, message text rules)
    assert not loaded & {"smsapi_async._pagination", "smsapi_async._convert", "smsapi_async._sms_text"}


def test_constructing_a_client_loads_no_third_party_module_beyond_httpx_and_anyio() -> None:
    baseline = loaded_after("import httpx")
    added = {m.partition(".")[0] for m in loaded_after(CONSTRUCT) - baseline}
    # attrs (the models, the events) in particular waits for the first resource or hook
    allowed = {"smsapi_async", "anyio", "sniffio", *sys.stdlib_module_names}
    assert added <= allowed, added - allowed
    assert "attrs" not in added


@pytest.mark.parametrize(
    ("resource", "models"),
    [
        ("sms", {"sms", "reports", "delivery"}),  # client.sms also reports (get-sms-stats, replies)
        ("account", {"account"}),
        ("lists", {"lists"}),
        ("numbers", {"numbers"}),
        ("keywords", {"keywords"}),
        ("email", {"email"}),
        ("resellers", {"resellers"}),
    ],
)
def test_first_use_of_a_resource_loads_it_and_its_models_and_nothing_else(
    resource: str, models: set[str]
) -> None:
    loaded = loaded_after(f"{CONSTRUCT}client.{resource}")
    resources = {m.rpartition(".")[2] for m in ours(loaded, "smsapi_async.resources")} - {
        "resources",
        "_base",
    }
    expected = {"sms", "reports"} if resource == "sms" else {resource}  # the sms resource extends reports
    assert resources == expected
    assert {m.rpartition(".")[2] for m in ours(loaded, "smsapi_async.models")} - {"models"} == models
    assert ours(loaded, *OPTIONAL) == set()


def test_bulk_sends_delivery_tracking_and_callbacks_load_when_used() -> None:
    assert {"smsapi_async._bulk", "smsapi_async._journal"} <= loaded_after(
        f"{CONSTRUCT}client.sms.send_bulk([])"
    )
    assert "smsapi_async.webhooks._hub" in loaded_after(f"{CONSTRUCT}client.callback_hub")
    assert "smsapi_async.webhooks._verify" in loaded_after(
        f"{CONSTRUCT}client.callback_url('https://example.com/hook')"
    )
    assert "smsapi_async.tracking" in loaded_after(f"{CONSTRUCT}client.sms.reply_stream()")


def test_a_call_without_event_hooks_loads_no_event_module() -> None:
    loaded = loaded_after(CALL_WITHOUT_HOOKS)
    assert "smsapi_async.resources.account" in loaded
    assert ours(loaded, "smsapi_async._events", "smsapi_async.events", "smsapi_async.webhooks") == set()


def test_constructing_a_client_makes_no_http_connection_machinery_nor_xml_parser() -> None:
    # the httpx.AsyncClient (TLS certificates, httpcore, h11) is made on the first request, and a
    # JSON client never loads an XML parser
    loaded = loaded_after(CONSTRUCT)
    assert not loaded & {"httpcore", "h11", "certifi", "xml.etree.ElementTree", "defusedxml", "pyexpat"}
    called = loaded_after(CALL_WITHOUT_HOOKS)
    assert "smsapi_async.models.account" in called  # the call was made and its answer parsed
    assert not called & {"xml.etree.ElementTree", "defusedxml", "pyexpat"}


@pytest.mark.anyio
async def test_the_http_client_is_made_once_on_first_use_and_shared_by_copies() -> None:
    made: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        made.append(request)
        return httpx.Response(200, json={"error": {"code": "SUCCESS", "description": "OK"}})

    client = smsapi_async.AsyncSmsClient("k", "s", transport=httpx.MockTransport(answer), rate_limit=None)
    copy = client.with_options(max_retries=0)  # copied before any HTTP client exists
    await copy.call("get-balance")
    await client.call("get-balance")
    assert len(made) == 2
    await client.aclose()  # closes the one HTTP client, which the copy was using too
    with pytest.raises(smsapi_async.NetworkError, match="RuntimeError"):
        await copy.call("get-balance")
    assert len(made) == 2


@pytest.mark.anyio
async def test_a_closed_client_that_never_sent_fails_like_one_that_did() -> None:
    answer = httpx.Response(200, json={"error": {"code": "SUCCESS", "description": "OK"}})
    errors = []
    for warm in (True, False):
        client = smsapi_async.AsyncSmsClient(
            "k", "s", transport=httpx.MockTransport(lambda _: answer), rate_limit=None, max_retries=0
        )
        if warm:
            await client.call("get-balance")
        await client.aclose()
        with pytest.raises(smsapi_async.NetworkError) as caught:
            await client.call("get-balance")
        errors.append(str(caught.value))
    assert errors[0] == errors[1]


def test_copies_build_their_own_resources_and_share_the_callback_hub() -> None:
    client = smsapi_async.AsyncSmsClient("k", "s")
    before = client.sms  # built before the copy: the copy must not reuse it
    copy = client.with_options(max_retries=0)
    assert copy.sms is not before
    assert copy.sms._client is copy
    assert client.sms is before  # cached: one resource object per client
    assert copy.account._client is copy
    assert copy.callback_hub is client.callback_hub  # made after the copy, still one hub
    other = client.with_credentials("k2", "s2")
    assert other.callback_hub is not client.callback_hub
    assert other.sms._client is other


@pytest.mark.parametrize("package", ["smsapi_async", "smsapi_async.models", "smsapi_async.resources"])
def test_every_lazily_exposed_name_resolves_and_dir_is_complete(package: str) -> None:
    # in a fresh interpreter, so that no other test has imported the modules behind the names
    report = json.loads(
        fresh_python(
            f"import importlib, json\npackage = importlib.import_module({package!r})\n"
            "names = list(package.__all__)\nlisted = dir(package)\n"
            "values = {name: getattr(package, name) for name in names}\n"
            "print(json.dumps({'listed': listed, 'names': names, 'none': [n for n, v in values.items() "
            "if v is None], 'again': sorted(set(dir(package)) - set(listed))}))"
        )
    )
    assert report["none"] == []
    assert set(report["names"]) <= set(report["listed"])  # dir() names them before they are loaded
    module = importlib.import_module(package)
    assert len(set(module.__all__)) == len(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None
    star = fresh_python(f"from {package} import *\nprint(len([n for n in dir() if not n.startswith('__')]))")
    assert int(star) >= len(module.__all__) - 1  # __version__ is dunder-named in the top package


def test_every_public_name_resolves_and_star_import_works() -> None:
    for name in smsapi_async.__all__:
        assert getattr(smsapi_async, name) is not None, name
    assert set(smsapi_async.__all__) <= set(dir(smsapi_async))
    names = fresh_python(
        "from smsapi_async import *\nfrom smsapi_async import AsyncSmsClient, RateLimiter\n"
        "print(AsyncSmsClient.__module__, RateLimiter.__module__, len(dir()))"
    )
    assert names.startswith("smsapi_async._client smsapi_async._limiter")


@pytest.mark.parametrize("package", ["smsapi_async", "smsapi_async.models", "smsapi_async.resources"])
def test_an_unknown_name_is_an_attribute_error(package: str) -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        getattr(importlib.import_module(package), "NoSuchThing")  # noqa: B009
