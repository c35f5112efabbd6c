"""A throwaway redis-server on a free loopback port (no persistence), for benchmarks and tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

START_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ping(port: int, timeout: float = 0.5) -> bool:
    """Whether a Redis server answers PING on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
            return reply.startswith((b"+PONG", b"-NOAUTH"))  # up, password or not
    except OSError:
        return False


class RedisServer:
    """One redis-server process on 127.0.0.1, keys in memory only, stopped by :meth:`stop`."""

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        binary: str | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        found = binary or shutil.which("redis-server")
        if found is None:
            raise FileNotFoundError("redis-server is not installed (apt-get install -y redis-server)")
        self.binary = found
        self.directory = directory
        self.port = port or free_port()
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            self.binary,
            *("--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory)),
            *("--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"),
            *self.extra_args,
        ]
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while not ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server did not start on port {self.port}:\n{tail}")
            time.sleep(0.02)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def restart(self, down: float) -> None:
        """Stop the server (losing every key), stay down ``down`` seconds, start it on the same port."""
        self.stop()
        time.sleep(down)
        self.start()


def started_server(
    directory: Path, binary: str | None = None, extra_args: tuple[str, ...] = ()
) -> RedisServer:
    """A running server (a few tries, in case another process took the free port meanwhile)."""
    for attempt in range(3):
        server = RedisServer(directory, binary=binary, extra_args=extra_args)
        try:
            server.start()
        except RuntimeError:
            if attempt == 2:
                raise
            continue
        return server
    raise AssertionError("unreachable")
