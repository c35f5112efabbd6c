"""A local, stateful emulator of the Transmit SMS v1 API, for development and tests.

    from smsapi_async.sandbox import Sandbox, SandboxConfig, VirtualClock

    clock = VirtualClock()
    sandbox = Sandbox(SandboxConfig(rate_limit=2), clock=clock)
    async with sandbox.running():                      # callback worker
        transport = httpx.ASGITransport(sandbox.app)   # or serve_in_thread(sandbox) for a real socket
        ...
        clock.advance(5)                                # DLRs become due, callbacks are sent
        await sandbox.settle()

Run it from a shell with ``python -m smsapi_async.sandbox --port 8765``. The demo account is
``sandbox-key`` / ``sandbox-secret`` (1000.00 AUD, one virtual number, reseller).
"""

from ._callbacks import CallbackDelivery
from ._clock import SandboxClock, VirtualClock, WallClock
from ._config import AccountConfig, ChaosConfig, DeliveryRules, SandboxConfig
from ._persist import StateStore
from ._sandbox import Sandbox
from ._server import serve_app_in_thread, serve_in_thread

__all__ = [
    "AccountConfig",
    "CallbackDelivery",
    "ChaosConfig",
    "DeliveryRules",
    "Sandbox",
    "SandboxClock",
    "SandboxConfig",
    "StateStore",
    "VirtualClock",
    "WallClock",
    "serve_app_in_thread",
    "serve_in_thread",
]
