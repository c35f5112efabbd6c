"""Benchmarks for smsapi_async: the rate limiter and the client's request path.

Run them all with ``python -m benchmarks`` (``--quick`` for a few-second smoke run). Each
benchmark is a plain function that runs its own event loop and returns a :class:`Table`; the
numbers are printed, never asserted, because timing targets depend on the machine.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Table", "free_port", "wait_until_listening"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_listening(port: int, process: subprocess.Popen[bytes], what: str, timeout: float = 30) -> None:
    """Return once ``process`` accepts connections on ``port``; ``RuntimeError`` if it exits or takes
    longer than ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.05)


@dataclass(frozen=True)
class Table:
    """One benchmark's result: a title, column names, and rows of already formatted cells."""

    title: str
    columns: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    note: str = ""

    def column(self, name: str) -> list[str]:
        """The cells of column ``name``, top to bottom."""
        index = self.columns.index(name)
        return [row[index] for row in self.rows]
