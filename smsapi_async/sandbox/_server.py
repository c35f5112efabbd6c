"""Serving the sandbox over a real socket with uvicorn (in a background thread, for tests)."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import uvicorn
from starlette.types import ASGIApp

from ._framing import tolerant_http_protocol
from ._samesite import exposure_warning
from ._sandbox import Sandbox

__all__ = ["serve_app_in_thread", "serve_in_thread"]


def serve_in_thread(
    sandbox: Sandbox, *, host: str = "127.0.0.1", port: int = 0
) -> AbstractContextManager[str]:
    """Serve ``sandbox.app`` with uvicorn in a daemon thread; yields the base URL.

    ``port=0`` picks a free port. The app's lifespan runs the callback worker in the server's event
    loop, so drive a virtual clock through ``POST /_sandbox/advance`` rather than from this thread.
    While served, requests must name an IP literal, ``localhost`` or one of ``sandbox.allowed_hosts``
    as their ``Host`` (against DNS rebinding); a non-loopback ``host`` warns.
    """
    return _serve_sandbox(sandbox, host, port)


@contextmanager
def _serve_sandbox(sandbox: Sandbox, host: str, port: int) -> Iterator[str]:
    previous = sandbox.allowed_hosts
    if previous is None:
        sandbox.allowed_hosts = frozenset()
    try:
        with serve_app_in_thread(sandbox.app, host=host, port=port) as url:
            yield url
    finally:
        sandbox.allowed_hosts = previous


@contextmanager
def serve_app_in_thread(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve any ASGI app with uvicorn in a daemon thread for the block; yields its base URL.

    Requests are parsed as tolerantly as the real API's front end does (``_framing.py``)."""
    warning = exposure_warning(host)
    if warning is not None:
        warnings.warn(warning, stacklevel=3)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        access_log=False,
        http=tolerant_http_protocol(),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="smsapi-sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sandbox server did not start")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()
    try:
        yield f"http://{bound[0]}:{bound[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
