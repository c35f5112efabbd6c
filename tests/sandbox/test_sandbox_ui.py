"""The sandbox's inbox at /_sandbox/ui, through httpx's ASGI transport (the browser tests are in
test_sandbox_ui_browser.py): pages, search, threads, live fragments, the reply action, escaping."""

from __future__ import annotations

import re
import zipfile
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from hatchling.builders.wheel import WheelBuilder
from support import ROOT

from smsapi_async._signature import SIGNATURE_HEADER, verify_callback_signature
from smsapi_async.sandbox import ChaosConfig, SandboxConfig
from smsapi_async.sandbox._ui import matches
from smsapi_async.testing import SandboxHarness, sandbox_client

pytestmark = pytest.mark.anyio

UI = "/_sandbox/ui"
PAGES = [UI, f"{UI}/thread/61400000001", f"{UI}/callbacks", f"{UI}/requests", f"{UI}/account"]
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
UI_FILES = ROOT / "smsapi_async" / "sandbox" / "ui"


class Page(HTMLParser):
    """What a test needs from a page: headings, forms and their fields, labels, ids, scripts."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.headings: list[tuple[str, str]] = []
        self.forms: list[dict[str, Any]] = []
        self.labels: set[str] = set()
        self.ids: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self._heading: str | None = None
        self._text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag in ("h1", "h2", "h3"):
            self._heading, self._text = tag, []
        elif tag == "form":
            self.forms.append({"attrs": a, "fields": {}, "controls": []})
        elif tag in ("input", "textarea", "select") and self.forms:
            self.forms[-1]["controls"].append(a)
            if a.get("name"):
                self.forms[-1]["fields"][a["name"]] = a.get("value") or ""
        elif tag == "label" and a.get("for"):
            self.labels.add(str(a["for"]))
        elif tag == "script":
            self.scripts.append(a)

    def handle_data(self, data: str) -> None:
        if self._heading:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._heading:
            self.headings.append((tag, " ".join("".join(self._text).split())))
            self._heading = None

    def form(self, kind: str) -> dict[str, Any]:
        return next(f for f in self.forms if f["attrs"].get("data-admin") == kind)


@pytest.fixture
def received() -> list[httpx.Request]:
    """The callbacks the sandbox of the ``sms`` fixture sent (all answered 200)."""
    return []


@pytest.fixture
async def sms(anyio_backend: str, received: list[httpx.Request]) -> AsyncIterator[SandboxHarness]:
    def callbacks(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    async with sandbox_client(callback_transport=httpx.MockTransport(callbacks)) as harness:
        yield harness


def ui_client(sms: SandboxHarness) -> httpx.AsyncClient:
    """A plain HTTP client for the sandbox's pages (what a browser would fetch)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=sms.sandbox.app), base_url=sms.base_url)


@pytest.fixture
async def ui(sms: SandboxHarness) -> AsyncIterator[httpx.AsyncClient]:
    async with ui_client(sms) as client:
        yield client


def same_origin(ui: httpx.AsyncClient) -> dict[str, str]:
    """What a browser adds to a fetch() from one of the sandbox's own pages."""
    return {"origin": str(ui.base_url).rstrip("/"), "sec-fetch-site": "same-origin", "sec-fetch-mode": "cors"}


async def submit(ui: httpx.AsyncClient, page_url: str, kind: str, **fields: str) -> httpx.Response:
    """Do what inbox.js does with an admin form: a same-origin fetch() POSTing its fields as JSON."""
    page = Page((await ui.get(page_url)).text)
    form = page.form(kind)
    assert form["attrs"]["method"] == "post"
    body = {k: v for k, v in {**form["fields"], **fields}.items() if v != ""}
    return await ui.post(form["attrs"]["action"], json=body, headers=same_origin(ui))


async def test_every_page_renders_with_one_h1_labelled_controls_and_strict_headers(
    sms: SandboxHarness, ui: httpx.AsyncClient
) -> None:
    await sms.client.sms.send(message="Hello", to=["61400000001"])
    for url in PAGES:
        answer = await ui.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["content-type"].startswith("text/html")
        csp = answer.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "default-src 'none'" in csp
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert '<html lang="en">' in answer.text
        page = Page(answer.text)
        assert [level for level, _ in page.headings].count("h1") == 1, url
        controls = [c for f in page.forms for c in f["controls"] if c.get("type") != "hidden"]
        assert all(c.get("id") in page.labels for c in controls), url
        assert len(page.ids) == len(set(page.ids)), f"duplicate ids on {url}"
        assert page.scripts == [{"src": f"{UI}/static/inbox.js", "defer": None}]


async def test_the_sandbox_root_and_a_trailing_slash_lead_to_the_inbox(ui: httpx.AsyncClient) -> None:
    assert (await ui.get("/_sandbox/")).headers["location"] == UI
    assert (await ui.get(f"{UI}/")).status_code == 200


async def test_static_files_are_served_and_nothing_is_loaded_from_elsewhere(ui: httpx.AsyncClient) -> None:
    for name, kind in [("inbox.js", "javascript"), ("inbox.css", "text/css"), ("icon.svg", "image/svg")]:
        answer = await ui.get(f"{UI}/static/{name}")
        assert answer.status_code == 200
        assert kind in answer.headers["content-type"]
    for path in UI_FILES.rglob("*"):
        if path.is_file():
            text = path.read_text()
            outside = re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text)
            assert set(outside) <= {"http://www.w3.org/"}, path  # the SVG namespace is a name, not a load
            assert "@import" not in text, path
            assert "@font-face" not in text, path


def test_the_wheel_ships_the_templates_and_static_files(tmp_path: Path) -> None:
    (wheel,) = WheelBuilder(str(UI_FILES.parents[2])).build(directory=str(tmp_path), versions=["standard"])
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name for name in archive.namelist() if "/sandbox/ui/" in name}
    expected = {
        "smsapi_async/sandbox/" + path.relative_to(UI_FILES.parent).as_posix()
        for path in UI_FILES.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert "smsapi_async/sandbox/ui/static/inbox.js" in expected
    assert shipped == expected


async def test_the_inbox_lists_every_sms_newest_first(sms: SandboxHarness, ui: httpx.AsyncClient) -> None:
    await sms.client.sms.send(message="First, to two", to=["61400000001", "61400000002"])
    await sms.advance(10)
    await sms.client.sms.send(message="Second", to=["61400000003"])
    await sms.advance(10)
    sms.inject_reply("61400000001", "A reply")
    html = (await ui.get(UI)).text
    positions = [html.index(text) for text in ("A reply", "Second", "First, to two")]
    assert positions == sorted(positions)
    assert "4 messages." in html
    assert html.count("First, to two") == 2  # one row per recipient
    for number in ("61400000001", "61400000002", "61400000003"):
        assert f'href="{UI}/thread/{number}"' in html
    assert "+61 400 000 002" in html


async def test_search_finds_numbers_however_written_and_text_in_any_case(
    sms: SandboxHarness, ui: httpx.AsyncClient
) -> None:
    await sms.client.sms.send(message="Table booked", to=["61400000001"])
    await sms.client.sms.send(message="Parcel on its way", to=["61400000002"])
    for query, expected in [
        ("booked", "Table booked"),
        ("PARCEL", "Parcel on its way"),
        ("0400 000 002", "Parcel on its way"),
        ("+61 400-000-001", "Table booked"),
        ("61400000002", "Parcel on its way"),
    ]:
        html = (await ui.get(UI, params={"q": query})).text
        assert expected in html, query
        assert "1 message matching" in html, query
    html = (await ui.get(UI, params={"q": "nothing like it"})).text
    assert "No message matches" in html
    assert 'value="nothing like it"' in html  # the box keeps what was searched


def test_matching_rules() -> None:
    assert matches("", "61400000001")
    assert matches("(04) 0000-0001", "61400000001")
    assert matches("hello", "61400000001", "Well, HELLO there")
    assert not matches("0500", "61400000001", "text")
    assert not matches("61400000002", "61400000001", "text")


async def test_a_thread_shows_sender_encoding_parts_cost_and_the_delivery_history(
    sms: SandboxHarness, ui: httpx.AsyncClient
) -> None:
    await sms.client.sms.send(message="Привет " * 20, to=["61400000001", "61400000002"])  # UCS-2, 140 chars
    await sms.client.sms.send(message="Bounces", to=["61400000009"])
    url = f"{UI}/thread/61400000001"
    before = (await ui.get(url)).text
    assert "UCS-2" in before
    assert re.search(r"<dt>Parts</dt><dd>3</dd>", before)
    assert re.search(r"<dt>Cost</dt><dd>0\.261 AUD</dd>", before)
    assert "Sent by <strong>+61 400 000 000</strong>" in before
    assert 'class="badge state-pending">pending' in before
    assert "state-delivered" not in before
    assert "Bounces" not in before  # another number's thread
    await sms.advance(5)
    after = (await ui.get(url)).text
    history = re.search(r'<ol class="history".*?</ol>', after, re.S)
    assert history is not None
    assert re.findall(r"state-([\w-]+)\">", history.group()) == ["accepted", "pending", "delivered"]
    bounced = (await ui.get(f"{UI}/thread/61400000009")).text
    assert "hard-bounce" in bounced
    assert "GSM-7" in bounced


async def test_the_live_fragment_changes_version_only_when_what_it_shows_changes(
    sms: SandboxHarness, ui: httpx.AsyncClient
) -> None:
    await sms.client.sms.send(message="Hi", to=["61400000001"])
    full = await ui.get(UI)
    first = await ui.get(UI, params={"partial": "1"})
    assert "<html" not in first.text
    assert '<ol class="rows">' in first.text
    assert first.headers["x-live-version"] == full.headers["x-live-version"]
    assert f'data-version="{full.headers["x-live-version"]}"' in full.text
    assert (await ui.get(UI, params={"partial": "1"})).headers["x-live-version"] == first.headers[
        "x-live-version"
    ]
    await sms.advance(5)  # the message is delivered: the row's badge changes
    later = await ui.get(UI, params={"partial": "1"})
    assert later.headers["x-live-version"] != first.headers["x-live-version"]
    assert "delivered" in later.text


async def test_reply_as_this_phone_is_an_inbound_sms_with_callback_and_api_record(
    sms: SandboxHarness, ui: httpx.AsyncClient, received: list[httpx.Request]
) -> None:
    sent = await sms.client.sms.send(
        message="Table for 2?", to=["61400000001"], reply_callback="https://app.example/replies"
    )
    await sms.advance(5)
    thread = f"{UI}/thread/61400000001"
    form = Page((await ui.get(thread)).text).form("inbound")
    assert form["attrs"]["action"] == "/_sandbox/inbound"
    assert form["fields"]["mobile"] == "61400000001"
    answer = await submit(ui, thread, "inbound", message="Yes please")
    assert answer.status_code == 200, answer.text
    assert answer.json()["message_id"] == sent.message_id
    await sms.sandbox.settle()
    replies = [r for r in received if r.url.path == "/replies"]
    assert len(replies) == 1
    assert replies[0].url.params["response"] == "Yes please"
    assert verify_callback_signature(
        replies[0].url.query.decode(), replies[0].headers[SIGNATURE_HEADER], "sandbox-secret"
    )
    responses = [r async for r in sms.client.sms.user_responses()]
    assert [(r.msisdn, r.response) for r in responses] == [("61400000001", "Yes please")]
    html = (await ui.get(thread)).text
    assert "Yes please" in html
    assert "reply callback delivered" in html


async def test_stop_typed_in_the_thread_opts_the_number_out(
    sms: SandboxHarness, ui: httpx.AsyncClient
) -> None:
    await sms.client.sms.send(message="Promo", to=["61400000001"])
    thread = f"{UI}/thread/61400000001"
    answer = await submit(ui, thread, "inbound", message="STOP")
    assert answer.json()["is_optout"] is True
    html = (await ui.get(thread)).text
    assert "has opted out" in html
    assert "state-opt-out" in html
    assert "61400000001" in sms.sandbox.account().optouts
    assert "opt-out" in (await ui.get(UI)).text


async def test_message_text_and_every_other_outside_value_render_inert(
    sms: SandboxHarness, ui: httpx.AsyncClient
) -> None:
    hostile_url = 'https://app.example/cb?x="><script>alert(1)</script>'
    await sms.client.sms.send(message=HOSTILE, to=["61400000001"], dlr_callback=hostile_url)
    sms.inject_reply("61400000001", HOSTILE)
    guests = await sms.client.lists.add('<b onmouseover="alert(1)">VIP</b>')
    await sms.client.lists.add_contact(guests.id, "61400000002")
    await sms.client.sms.send(message="Hi", list_id=guests.id)
    account_url = 'https://app.example/r?x="><script>alert("x")</script>'  # a URL, if a hostile one
    assert (await ui.post("/_sandbox/settings", json={"reply_callback": account_url})).status_code == 200
    await sms.advance(5)
    for url in [*PAGES, f"{UI}/thread/61400000002", f"{UI}?q=<script>"]:
        for variant in ({}, {"partial": "1"}):
            html = (await ui.get(url, params=variant)).text
            assert "<script>alert" not in html, url
            assert "<img" not in html, url
            assert "<b " not in html, url
            assert html.count("<script") == (0 if variant else 1), url
    inbox = (await ui.get(UI)).text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in inbox
    requests = (await ui.get(f"{UI}/requests")).text  # the callback URL as the app sent it
    assert "x=&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in requests
    account = (await ui.get(f"{UI}/account")).text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in account


async def test_the_callbacks_view_shows_kind_url_attempts_codes_next_retry_and_signature(
    anyio_backend: str,
) -> None:
    answers = iter([httpx.Response(500), httpx.Response(204)])

    def flaky(request: httpx.Request) -> httpx.Response:
        return next(answers)

    async with sandbox_client(callback_transport=httpx.MockTransport(flaky)) as sms:
        ui = ui_client(sms)
        await sms.client.sms.send(message="Hi", to=["61400000001"], dlr_callback="https://app.example/dlr")
        await sms.advance(5)
        html = (await ui.get(f"{UI}/callbacks")).text
        delivery = sms.sandbox.callbacks.deliveries[0]
        assert "<td>dlr</td>" in html
        assert "https://app.example/dlr?message_id=" in html
        assert "HTTP 500" in html
        assert "cb-retrying" in html
        assert f"{delivery.as_dict()['next_attempt']} UTC" in html
        assert delivery.signature in html
        await sms.advance(60)
        html = (await ui.get(f"{UI}/callbacks")).text
        assert "HTTP 204" in html
        assert "cb-delivered" in html
        thread = (await ui.get(f"{UI}/thread/61400000001")).text
        assert "DLR callback delivered · 500 204" in thread
        await ui.aclose()


async def test_the_request_log_highlights_429s_and_can_show_only_them(anyio_backend: str) -> None:
    async with sandbox_client(SandboxConfig(rate_limit=1)) as sms:
        ui = ui_client(sms)
        async with ui_client(sms) as raw:
            for _ in range(3):  # same virtual instant: the 2nd and 3rd exceed 1 call/s
                await raw.get("/get-balance.json", auth=("sandbox-key", "sandbox-secret"))
        html = (await ui.get(f"{UI}/requests")).text
        assert "3 requests" in html
        assert "2 refused with 429" in html
        assert html.count('<tr class="limited">') == 2
        assert html.count("429 rate-limited") == 2
        only = (await ui.get(f"{UI}/requests", params={"status": "429"})).text
        assert only.count("<tbody>") == 1
        assert only.count("<tr") == 3  # the header row and the two 429s
        assert 'value="429" checked' in only
        await ui.aclose()


async def test_the_account_view_shows_balance_rate_limit_and_chaos_switches(anyio_backend: str) -> None:
    config = SandboxConfig(rate_limit=15, chaos=ChaosConfig(server_error=0.25))
    async with sandbox_client(config) as sms:
        ui = ui_client(sms)
        html = (await ui.get(f"{UI}/account")).text
        assert '<dd class="balance">1000.000 AUD</dd>' in html
        assert "15 calls/s per account" in html
        assert re.search(
            r"502 HTML error page</th><td><span class=\"badge on\">on</span></td><td>0.25<", html
        )
        assert re.search(r"429 OVER_LIMIT</th><td><span class=\"badge off\">off", html)
        assert "virtual, now" in html
        credit = await submit(ui, f"{UI}/account", "credit", amount="12.5")
        assert credit.json() == {"balance": 1012.5}
        advance = await submit(ui, f"{UI}/account", "advance", seconds="60")
        assert advance.status_code == 200
        assert "1012.500 AUD" in (await ui.get(f"{UI}/account", params={"partial": "1"})).text
        await ui.aclose()


async def test_ui_actions_pass_the_same_site_rules_and_other_sites_cannot_use_the_ui(
    sms: SandboxHarness, ui: httpx.AsyncClient
) -> None:
    await sms.client.sms.send(message="Hi", to=["61400000001"])
    thread = f"{UI}/thread/61400000001"
    assert (await submit(ui, thread, "inbound", message="From the page")).status_code == 200
    form = Page((await ui.get(thread)).text).form("inbound")
    fields = {**form["fields"], "message": "no script"}
    as_form = await ui.post(form["attrs"]["action"], data=fields, headers=same_origin(ui))
    assert as_form.status_code == 415  # why the page's actions need its script
    elsewhere = {
        "origin": "https://attacker.example",
        "sec-fetch-site": "cross-site",
        "sec-fetch-mode": "cors",
    }
    assert (await ui.post(form["attrs"]["action"], json=fields, headers=elsewhere)).status_code == 403
    assert (await ui.get(UI, params={"partial": "1"}, headers=elsewhere)).status_code == 403
    link = {"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate"}
    assert (await ui.get(thread, headers=link)).status_code == 200  # a link to the inbox still opens
    assert [r.text for r in sms.sandbox.state.responses] == ["From the page"]


async def test_a_thread_url_must_be_a_number(ui: httpx.AsyncClient) -> None:
    assert (await ui.get(f"{UI}/thread/abc")).status_code == 404
    assert (await ui.get(f"{UI}/thread/{'1' * 30}")).status_code == 404
    empty = await ui.get(f"{UI}/thread/61400000001")
    assert "Nothing sent to or received from this number yet" in empty.text


async def test_ui_pages_are_not_logged_as_api_requests(sms: SandboxHarness, ui: httpx.AsyncClient) -> None:
    for url in PAGES:
        await ui.get(url)
    await ui.get(f"{UI}/static/inbox.js")
    assert list(sms.sandbox.requests) == []


async def test_chaos_switches_on_the_account_page_turn_faults_on_and_off(
    sms: SandboxHarness, ui: httpx.AsyncClient
) -> None:
    account = f"{UI}/account"
    page = Page((await ui.get(account)).text).form("chaos")
    assert page["fields"] == {
        "over_limit": "0",
        "server_error": "0",
        "drop_before": "0",
        "drop_after": "0",
        "slow": "0",
        "slow_seconds": "5",
    }
    answer = await submit(ui, account, "chaos", over_limit="1")
    assert answer.json()["over_limit"] == 1.0
    assert 'class="badge on">on</span></td><td>1<' in (await ui.get(account)).text
    refused = await ui.get("/get-balance.json", auth=("sandbox-key", "sandbox-secret"))
    assert refused.status_code == 429  # every API request now meets the fault
    assert (await submit(ui, account, "chaos", over_limit="0")).status_code == 200
    assert (await sms.client.account.balance()).balance == 1000
    for bad in ({"slow": "1.5"}, {"over_limit": "nan"}, {"slow_seconds": "inf"}, {"drop_after": "x"}):
        refused = await submit(ui, account, "chaos", **bad)
        assert refused.status_code == 400, bad
        assert "error" in refused.json()
    assert not sms.sandbox.config.chaos.enabled


async def test_a_thread_names_a_list_contact_and_the_reset_button_forgets_everything(
    sms: SandboxHarness, ui: httpx.AsyncClient
) -> None:
    guests = await sms.client.lists.add("Guests")
    await sms.client.lists.add_contact(guests.id, "61400000011", first_name="Ada", last_name="Lovelace")
    await sms.client.sms.send(message="Hi [firstname]", list_id=guests.id)
    thread = (await ui.get(f"{UI}/thread/61400000011")).text
    assert "<h1>Thread with" in thread
    assert '<span class="sub">(Ada Lovelace)</span></h1>' in thread
    assert "Hi Ada" in thread
    form = Page((await ui.get(f"{UI}/account")).text).form("reset")
    assert form["attrs"]["data-confirm"]  # the script asks before it forgets everything
    assert (await submit(ui, f"{UI}/account", "reset")).json() == {}
    assert "No messages yet" in (await ui.get(UI)).text


async def test_a_tracked_link_can_be_opened_as_the_phone(
    sms: SandboxHarness, ui: httpx.AsyncClient, received: list[httpx.Request]
) -> None:
    sent = await sms.client.sms.send(
        message="Your order: [tracked-link]",
        to=["61400000001"],
        tracked_link_url="https://shop.example/order/1",
        link_hits_callback="https://app.example/hits",
    )
    thread = f"{UI}/thread/61400000001"
    form = Page((await ui.get(thread)).text).form("link-hit")
    assert form["fields"] == {"message_id": str(sent.message_id), "mobile": "61400000001"}
    assert (await submit(ui, thread, "link-hit")).json() == {"link_hits": 1}
    assert "<dt>Link hits</dt><dd>1</dd>" in (await ui.get(thread)).text
    await sms.sandbox.settle()
    assert [r.url.path for r in received] == ["/hits"]


async def test_a_scheduled_then_cancelled_message_shows_that_history(
    sms: SandboxHarness, ui: httpx.AsyncClient
) -> None:
    later = datetime.fromtimestamp(sms.sandbox.clock.now() + 3600, timezone.utc)
    scheduled = await sms.client.sms.send(message="Tomorrow", to=["61400000001"], send_at=later)
    thread = f"{UI}/thread/61400000001"
    html = (await ui.get(thread)).text
    assert 'class="badge state-scheduled">scheduled' in html
    await sms.advance(60)
    await sms.client.sms.cancel(scheduled.message_id)
    await sms.advance(7200)  # long past its send time: it never goes out
    html = (await ui.get(thread)).text
    history = re.search(r'<ol class="history".*?</ol>', html, re.S)
    assert history is not None
    assert re.findall(r"state-([\w-]+)\">", history.group()) == ["accepted", "scheduled", "cancelled"]
    assert "pending" not in history.group()


async def test_the_inbox_simulates_an_sms_to_a_virtual_number_or_a_reply(
    sms: SandboxHarness, ui: httpx.AsyncClient
) -> None:
    form = Page((await ui.get(UI)).text).form("inbound")
    selects = [c for c in form["controls"] if c.get("name") == "to"]
    assert len(selects) == 1
    html = (await ui.get(UI)).text
    assert '<option value="61400000000">+61 400 000 000, virtual number of Sandbox Account</option>' in html
    answer = await submit(ui, UI, "inbound", mobile="61400000005", to="61400000000", message="JOIN")
    assert answer.status_code == 200
    (response,) = sms.sandbox.state.responses
    assert (response.msisdn, response.longcode, response.message_id) == ("61400000005", "61400000000", 0)
    inbox = (await ui.get(UI)).text
    assert "to +61 400 000 000" in inbox
    assert f'href="{UI}/thread/61400000005"' in inbox
    bad = await submit(ui, UI, "inbound", mobile="not a number", message="hi")
    assert bad.status_code == 400
    assert "not a valid international number" in bad.json()["error"]
