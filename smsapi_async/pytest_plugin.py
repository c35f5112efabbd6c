"""pytest fixtures for suites that use smsapi_async, under pytest-asyncio or anyio's plugin.

Enable them in your ``conftest.py`` with ``pytest_plugins = ["smsapi_async.pytest_plugin"]``.

* ``sms_sandbox``: a :class:`~smsapi_async.testing.SandboxHarness`, a client wired to a fresh
  in-process sandbox with virtual time;
* ``respx_sandbox``: a :class:`~smsapi_async.testing.RespxSandbox`, the same sandbox behind respx,
  so that the clients your application builds for itself reach it (see
  :func:`smsapi_async.testing.respx_sandbox`);
* ``sms_sandbox_config``: the :class:`~smsapi_async.sandbox.SandboxConfig` both use; override it in
  your ``conftest.py`` for other accounts, delivery rules or a rate limit.

The fixtures run on the event loop of whichever plugin runs the test, once per test: pytest-asyncio
>= 0.24 (``@pytest.mark.asyncio`` in strict mode, or any ``async def`` test in auto mode, on the test's
loop scope) or anyio (``@pytest.mark.anyio``, once per ``anyio_backend``)::

    @pytest.mark.asyncio
    async def test_welcome_sms_is_sent(sms_sandbox):
        await send_welcome(sms_sandbox.client, "61400000001")   # your code under test
        (message,) = sms_sandbox.sandbox.state.messages.values()
        assert "Welcome" in message.text
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

try:
    import pytest_asyncio
except ImportError:  # anyio users need not install pytest-asyncio
    pytest_asyncio = None  # type: ignore[assignment]

from .sandbox import SandboxConfig
from .testing import RespxSandbox, SandboxHarness, respx_sandbox, sandbox_client

__all__ = ["respx_sandbox_fixture", "sms_sandbox", "sms_sandbox_config"]

_LOOP_SCOPES = ("function", "class", "module", "package", "session")


@pytest.fixture
def sms_sandbox_config() -> SandboxConfig:
    """The sandbox's configuration: the demo account, no rate limit. Override it to change it."""
    return SandboxConfig(rate_limit=0)


@pytest.fixture
def sms_sandbox(request: pytest.FixtureRequest) -> SandboxHarness:
    """A client wired to a fresh in-process sandbox (virtual time, no rate limit)."""
    harness: SandboxHarness = _on_the_test_loop(request, "sms_sandbox")
    return harness


@pytest.fixture(name="respx_sandbox")
def respx_sandbox_fixture(request: pytest.FixtureRequest) -> RespxSandbox:
    """A fresh sandbox answering, through respx, every request to the Transmit SMS API."""
    harness: RespxSandbox = _on_the_test_loop(request, "respx_sandbox")
    return harness


def _on_the_test_loop(request: pytest.FixtureRequest, name: str) -> Any:
    """The value of ``name``'s variant for the plugin that runs this test.

    An async fixture must be set up by the plugin that runs the test, on the test's event loop:
    pytest-asyncio only runs fixtures marked with ``pytest_asyncio.fixture`` (warning about others in
    strict mode), anyio runs plain async fixtures of tests that use ``anyio_backend``. This sync
    fixture picks the variant that matches, so the test itself is neither parametrized nor warned.
    """
    item = request.node
    marker = item.get_closest_marker("asyncio")  # pytest-asyncio's auto mode adds it at collection
    if marker is not None and pytest_asyncio is not None:
        scope = marker.kwargs.get("loop_scope") or marker.kwargs.get("scope") or _default_loop_scope(request)
        return request.getfixturevalue(f"_{name}_asyncio_{scope}")
    if "anyio_backend" in request.fixturenames:
        return request.getfixturevalue(f"_{name}_anyio")
    pytest.fail(
        f"{name} needs an async test run by pytest-asyncio (@pytest.mark.asyncio, or asyncio_mode = auto)"
        f" or by anyio's plugin (@pytest.mark.anyio); {item.nodeid} is run by neither",
        pytrace=False,
    )


def _default_loop_scope(request: pytest.FixtureRequest) -> str:
    try:
        scope = request.config.getini("asyncio_default_test_loop_scope")
    except ValueError:  # pytest-asyncio < 0.26: tests run on a function-scoped loop
        return "function"
    return str(scope or "function")


# --- the variants, one per plugin (and per loop scope for pytest-asyncio) ----------------------------

_Opener = Callable[[pytest.FixtureRequest], contextlib.AbstractAsyncContextManager[Any]]
_OPENERS: dict[str, _Opener] = {
    "sms_sandbox": lambda request: sandbox_client(request.getfixturevalue("sms_sandbox_config")),
    "respx_sandbox": lambda request: respx_sandbox(request.getfixturevalue("sms_sandbox_config")),
}


def _asyncio_fixture(opener: _Opener) -> Callable[..., AsyncIterator[Any]]:
    # a new function object each time: pytest-asyncio marks the function it decorates
    async def fixture(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
        async for value in _hosted(opener(request)):
            yield value

    return fixture


async def _hosted(manager: contextlib.AbstractAsyncContextManager[Any]) -> AsyncIterator[Any]:
    """Enter and exit ``manager`` in a task of its own, and yield what it gives meanwhile.

    pytest-asyncio runs a fixture's setup and its teardown as two tasks, but the sandbox's task group
    (its callback worker) must be exited by the task that entered it. This variant only ever runs
    under pytest-asyncio, hence asyncio's own tasks.
    """
    loop = asyncio.get_running_loop()
    entered: asyncio.Future[Any] = loop.create_future()
    release = asyncio.Event()

    async def host() -> None:
        try:
            async with manager as value:
                entered.set_result(value)
                await release.wait()
        except BaseException as exc:
            if not entered.done():
                entered.set_exception(exc)
                return
            raise

    task = loop.create_task(host())
    try:
        yield await entered
    finally:
        release.set()
        await task


def _anyio_fixture(opener: _Opener) -> Callable[..., AsyncIterator[Any]]:
    # anyio runs async fixtures of the tests that use ``anyio_backend``, on that backend
    async def fixture(anyio_backend: object, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
        async with opener(request) as value:
            yield value

    return fixture


def _register_variants() -> None:
    module = globals()
    for name, opener in _OPENERS.items():
        module[f"_{name}_anyio"] = pytest.fixture(name=f"_{name}_anyio")(_anyio_fixture(opener))
        if pytest_asyncio is None:
            continue
        for scope in _LOOP_SCOPES:
            variant = f"_{name}_asyncio_{scope}"
            module[variant] = pytest_asyncio.fixture(_asyncio_fixture(opener), loop_scope=scope, name=variant)  # type: ignore[call-overload]


_register_variants()
