"""Every callback recipe in docs/callbacks.md, as written, served on a real socket, called by the sandbox.

The platform (and the sandbox) follows no redirect, so a recipe only works if the path of its
``CALLBACK_URL`` is answered as it is. Each recipe is executed from the guide, served by the
server its framework uses (uvicorn, Django's WSGI handler, werkzeug, aiohttp), and the sandbox
sends delivery receipts and a reply to ``client.callback_url(CALLBACK_URL)``, with only the host
replaced by the test server's.
"""

from __future__ import annotations

import asyncio
import re
import sys
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import django  # type: ignore[import-untyped]
import httpx
import pytest
from django.conf import settings as django_settings  # type: ignore[import-untyped]
from django.test import override_settings  # type: ignore[import-untyped]
from docs_pages import page

from smsapi_async.sandbox import AccountConfig, SandboxConfig, serve_app_in_thread
from smsapi_async.testing import sandbox_client
from smsapi_async.webhooks import SIGNATURE_HEADER, CallbackReceiver

SECRET = "sandbox-secret"
RECIPES = dict(re.findall(r"```python\n# recipe: (\w+)[^\n]*\n(.*?)```", page("callbacks.md"), flags=re.S))
PLACEHOLDER = "https://shop.example.com"


def test_the_guide_has_a_recipe_per_framework() -> None:
    assert set(RECIPES) == {"FastAPI", "Starlette", "Django", "Flask", "aiohttp"}
    for code in RECIPES.values():
        assert f'CALLBACK_URL = "{PLACEHOLDER}/sms-hooks' in code


def load(name: str, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """The recipe as a module of its own (Django imports its URL patterns by module name)."""
    monkeypatch.setenv("SMSAPI_API_SECRET", SECRET)
    module = types.ModuleType(f"readme_recipe_{name.lower()}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(RECIPES[name], f"docs/callbacks.md recipe {name}", "exec"), module.__dict__)
    return module


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_wsgi(app: Callable[..., Any]) -> Iterator[str]:
    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextmanager
def serve_django(module: types.ModuleType) -> Iterator[str]:
    if not django_settings.configured:
        django_settings.configure(ALLOWED_HOSTS=["*"], SECRET_KEY="x" * 50, ROOT_URLCONF=module.__name__)
        django.setup()
    from django.core.handlers.wsgi import WSGIHandler  # type: ignore[import-untyped]  # noqa: PLC0415

    with (
        override_settings(ROOT_URLCONF=module.__name__, ALLOWED_HOSTS=["*"]),
        serve_wsgi(WSGIHandler()) as url,
    ):
        yield url


@contextmanager
def serve_flask(module: types.ModuleType) -> Iterator[str]:
    from werkzeug.serving import make_server as werkzeug_server  # noqa: PLC0415

    server = werkzeug_server("127.0.0.1", 0, module.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


@contextmanager
def serve_aiohttp(module: types.ModuleType) -> Iterator[str]:
    # all of it on the server's own thread: its event loop (and the context its tasks inherit) must
    # not be the test's, which may be asyncio or trio
    from aiohttp import web  # noqa: PLC0415

    loop = asyncio.new_event_loop()
    runner = web.AppRunner(module.app)
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def served(name: str, module: types.ModuleType) -> AbstractContextManager[str]:
    if name in ("FastAPI", "Starlette"):
        return serve_app_in_thread(module.app)
    return {"Django": serve_django, "Flask": serve_flask, "aiohttp": serve_aiohttp}[name](module)


@pytest.mark.anyio
@pytest.mark.parametrize("name", sorted(RECIPES))
async def test_the_recipe_as_written_receives_the_sandboxs_callbacks_with_no_redirect(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load(name, monkeypatch)
    receiver: CallbackReceiver = module.receiver
    with served(name, module) as base:
        written: str = module.CALLBACK_URL
        async with sandbox_client(SandboxConfig(rate_limit=0, accounts=(AccountConfig(),))) as sms:
            url = sms.client.callback_url(written.replace(PLACEHOLDER, base))
            sent = await sms.client.sms.send(
                message="Shipped", to=["61400000001", "61400000009"], dlr_callback=url, reply_callback=url
            )
            await sms.advance(5)
            sms.inject_reply("61400000001", "Thanks")
            await sms.advance(1)
            deliveries = list(sms.sandbox.callbacks.deliveries)
        assert [d.kind for d in deliveries] == ["dlr", "dlr", "reply"]
        for delivery in deliveries:
            assert delivery.status == "delivered", (name, delivery.attempts)
            assert [attempt.get("status_code") for attempt in delivery.attempts] == [200], name
        assert receiver.stats["accepted"] == 3
        # the platform repeats a callback: over the socket again, it is acknowledged, not handed on
        async with httpx.AsyncClient() as http:
            again = await http.get(deliveries[0].url, headers={SIGNATURE_HEADER: deliveries[0].signature})
        assert (again.status_code, again.text) == (200, "duplicate")
    assert receiver.stats["accepted"] == 3
    assert sent.recipients == 2


@pytest.mark.anyio
async def test_a_starlette_mount_without_the_trailing_slash_is_what_the_readme_warns_of() -> None:
    # the finding behind the recipes: Mount("/sms-hooks") redirects the bare path, and a 307 is a
    # failed delivery for the platform
    from starlette.applications import Starlette  # noqa: PLC0415
    from starlette.routing import Mount  # noqa: PLC0415

    receiver = CallbackReceiver(print, api_secret=SECRET)
    with serve_app_in_thread(Starlette(routes=[Mount("/sms-hooks", app=receiver)])) as base:
        async with sandbox_client(SandboxConfig(rate_limit=0)) as sms:
            await sms.client.sms.send(
                message="Shipped",
                to=["61400000001"],
                dlr_callback=sms.client.callback_url(f"{base}/sms-hooks"),
            )
            await sms.advance(5)
            (delivery,) = sms.sandbox.callbacks.deliveries
    assert delivery.attempts[0].get("status_code") == 307
    assert receiver.stats["accepted"] == 0
