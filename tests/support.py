"""What every test shares: both async backends, the recorded API payloads, clients on fake
transports, a Redis server, and helpers the tests import (``from support import ...``).

``conftest.py`` registers this module as a plugin, so its fixtures and settings apply everywhere; the
conftest of each folder adds what only that folder's tests use."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
import respx
from hypothesis import settings
from redis_server import started_server

from smsapi_async import AsyncSmsClient

TESTS = Path(__file__).resolve().parent
"""The tests folder: helper scripts the tests run as other processes live here."""
ROOT = TESTS.parent
"""The repository."""
EXAMPLES = TESTS / "fixtures" / "examples"
"""Real payloads copied from ../shared/api/examples (provenance in its SOURCES.md)."""

# Property tests explore new random examples on every developer run (and keep what fails in the
# local example database); on CI (``CI`` set, a fresh clone with no database) they draw the same
# examples every time, so a landing is judged on a reproducible run and a rare example is found
# at a desk, pinned with ``@example``, rather than turning up as a one-off CI failure. No deadline
# there either: an example slowed past 200 ms by a busy machine is not a failure (hypothesis's own
# CI profile says the same, but only versions that detect CI load it).
settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session", autouse=True)
def children_stop_on_sigint() -> Iterator[None]:
    """Tests stop the CLI and the demo as a user does, with SIGINT (Ctrl+C). A shell that starts the
    suite as a background job (``cmd &`` without job control, as a script or a CI runner may) ignores
    SIGINT in it, and children inherit an ignored signal: they would never stop and those tests
    would time out. With a handler here instead, every child starts with SIGINT's default action."""
    previous = signal.getsignal(signal.SIGINT)
    if previous == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    if previous == signal.SIG_IGN:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every ``@pytest.mark.anyio`` test under asyncio and under trio."""
    return str(request.param)


def in_namespace(kinds: str, *command: str) -> list[str]:
    """``command`` run by ``unshare`` in namespaces of its own (``kinds``: ``"m"`` mount, ``"n"``
    network: loopback only, so nothing it does leaves the machine). Skips where none can be made,
    except in CI (``CI=true``), where it fails: the CI machine must allow it."""
    unshare = shutil.which("unshare")
    flags = [f"-{kind}" for kind in kinds]
    probe = subprocess.run([unshare, *flags, "true"], capture_output=True, check=False) if unshare else None
    if unshare is None or probe is None or probe.returncode != 0:
        message = f"cannot make namespaces (unshare {' '.join(flags)})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}: the CI machine must allow it")
        pytest.skip(message)
    return [unshare, *flags, *command]


def example_bytes(relative: str) -> bytes:
    """The raw bytes of an example payload, e.g. ``example_bytes("postman/get-balance.json")``."""
    return (EXAMPLES / relative).read_bytes()


def example_json(relative: str) -> dict[str, Any]:
    """A JSON example payload, parsed."""
    data = json.loads(example_bytes(relative))
    assert isinstance(data, dict)
    return data


def api_response(relative: str, status_code: int = 200) -> httpx.Response:
    """An httpx response carrying an example payload with the right content type."""
    content_type = "text/xml; charset=utf-8" if relative.endswith(".xml") else "application/json"
    return httpx.Response(
        status_code, content=example_bytes(relative), headers={"Content-Type": content_type}
    )


def success(**fields: Any) -> httpx.Response:
    """A JSON success response with ``fields``."""
    return httpx.Response(200, json={**fields, "error": {"code": "SUCCESS", "description": "OK"}})


def failure(code: str, description: Any = "", status_code: int = 400) -> httpx.Response:
    """A JSON error response."""
    return httpx.Response(status_code, json={"error": {"code": code, "description": description}})


def serving(
    relative: str, seen: list[httpx.Request], status_code: int = 200
) -> Callable[[httpx.Request], httpx.Response]:
    """A MockTransport handler that records each request in ``seen`` and answers with an example."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return api_response(relative, status_code)

    return handler


async def twin_results(
    make_client: Callable[..., AsyncSmsClient], stem: str, call: Callable[[AsyncSmsClient], Any]
) -> tuple[Any, Any]:
    """``call``'s result from a JSON client served ``<stem>.json`` and an XML one served ``<stem>.xml``."""
    json_client = make_client(serving(f"{stem}.json", []))
    xml_client = make_client(serving(f"{stem}.xml", []), response_format="xml")
    return await call(json_client), await call(xml_client)


def utc(*args: int) -> datetime:
    """``datetime(*args)`` in UTC."""
    return datetime(*args, tzinfo=timezone.utc)  # type: ignore[misc]


def form_of(request: httpx.Request) -> dict[str, str]:
    """The form fields a request carried (last value wins, as the API reads them)."""
    return dict(httpx.QueryParams(request.content.decode()))


def call_name(request: httpx.Request) -> str:
    """The API call a request made: ``send-sms`` for ``/send-sms.json``."""
    return request.url.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]


class Recorder:
    """A MockTransport handler that records every request and answers from a script: each answer
    in turn, the last one for every request after (a response, an exception to raise, or a function
    of the request)."""

    def __init__(self, *answers: httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    @property
    def forms(self) -> list[dict[str, str]]:
        """The form fields of each request, in order."""
        return [form_of(request) for request in self.requests]

    @property
    def calls(self) -> list[str]:
        """The API call each request made, in order."""
        return [call_name(request) for request in self.requests]


@pytest.fixture
async def make_client(anyio_backend: str) -> AsyncIterator[Callable[..., AsyncSmsClient]]:
    """Factory for clients on a ``MockTransport`` handler, limiter off unless asked; closed after."""
    made: list[AsyncSmsClient] = []

    def make(handler: Callable[[httpx.Request], httpx.Response], **options: Any) -> AsyncSmsClient:
        options.setdefault("rate_limit", None)
        client = AsyncSmsClient(
            "test-key-0001", "test-secret-0001", transport=httpx.MockTransport(handler), **options
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """respx routes for the real API URL, one per call: ``api.post("/get-balance.json")``. Every
    route declared must be called, and a request no route matches fails the test."""
    with respx.mock(base_url="https://api.transmitsms.com", assert_all_called=True) as router:
        yield router


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis for the shared-limiter tests: ``$REDIS_URL``, or a redis-server started here."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    server = started_server(tmp_path_factory.mktemp("redis"))
    try:
        yield server.url
    finally:
        server.stop()


def sample_query(name: str) -> str:
    """A documented sample's query string, as the docs show it (decoded: spaces, line breaks)."""
    return (EXAMPLES / "callbacks" / name).read_text(encoding="utf-8").split("?", 1)[1].rstrip("\n")


def encoded(query: str) -> str:
    """The same parameters percent-encoded, as they travel on the wire."""
    pairs = [(piece.split("=", 1)[0], piece.split("=", 1)[1]) for piece in query.split("&") if piece]
    return urlencode(pairs, quote_via=quote)
