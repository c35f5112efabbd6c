"""Run by tests/sandbox/test_sandbox_containment.py inside a network and mount namespace of its own
(``unshare -n -m``), where nothing leaves the machine: loopback is the only interface.

In there it gives loopback the link-local addresses ``169.254.169.254`` and ``fe80::a9fe``, serves a
stand-in "metadata service" on port 80 of every address, names it ``metadata.test`` and
``mapped.test`` in a private ``/etc/hosts``, then asks a served sandbox to make callbacks and
``file_url`` fetches to it in every spelling, and to make callbacks into its own ``send-sms``.
Prints one JSON line of what happened. With ``--allow``, the sandbox runs with
``allow_link_local=True`` (the positive control: the stand-in is reachable from here).

Not a test module: it changes addresses and mounts, which only a private namespace may do safely.
"""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from smsapi_async.sandbox import AccountConfig, Sandbox, SandboxConfig, serve_in_thread

SPELLINGS = [
    "http://169.254.169.254/",
    "http://2852039166/",
    "http://0xa9fea9fe/",
    "http://0xa9.0xfe.0xa9.0xfe/",
    "http://169.254.43518/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[fe80::a9fe%25lo]/",
    "http://metadata.test/",
    "http://mapped.test/",
    "http://METADATA.test./",
]
AUTH = ("sandbox-key", "sandbox-secret")


class Metadata(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    hits: list[str]

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # IPv4 too
        super().server_bind()


class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.hits.append(f"{self.headers.get('host')} {self.path}")  # type: ignore[attr-defined]
        body = b"mobile\n61400000001\n"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def setup(folder: Path) -> None:
    for command in (
        ["ip", "link", "set", "lo", "up"],
        ["ip", "addr", "add", "169.254.169.254/32", "dev", "lo"],
        ["ip", "-6", "addr", "add", "fe80::a9fe/64", "dev", "lo"],
    ):
        subprocess.run(command, check=True)
    hosts = folder / "hosts"
    hosts.write_text(
        "127.0.0.1 localhost\n::1 localhost\n"
        "169.254.169.254 metadata.test\n::ffff:169.254.169.254 mapped.test\n"
    )
    subprocess.run(["mount", "--bind", str(hosts), "/etc/hosts"], check=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Any, within: float) -> None:
    deadline = time.monotonic() + within
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def main(folder: Path, allow: bool) -> None:
    setup(folder)
    metadata = Metadata(("::", 80), Answer)
    metadata.hits = []
    threading.Thread(target=metadata.serve_forever, daemon=True).start()

    port = free_port()
    loop_url = f"http://sandbox-key:sandbox-secret@127.0.0.1:{port}/send-sms.json?to=61400000999&message=loop"
    extra = {"allow_link_local": True} if allow else {}
    config = SandboxConfig(
        # the account's default receipt URL is the sandbox's own send-sms: each receipt a new send
        accounts=(AccountConfig(balance=1000.0, dlr_callback=loop_url),),
        rate_limit=0,
        delivery_delay=0.1,
        callback_retry_scale=0.0,
        callback_timeout=2.0,
        **extra,
    )
    sandbox = Sandbox(config)
    report: dict[str, Any] = {}
    with serve_in_thread(sandbox, port=port) as url, httpx.Client(base_url=url, auth=AUTH) as http:
        for i, spelling in enumerate(SPELLINGS):
            sent = http.post(
                "/send-sms.json",
                data={"message": "hi", "to": f"614000001{i:02d}", "dlr_callback": spelling + "dlr"},
            )
            assert sent.status_code == 200, sent.text
            listed = http.post(
                "/add-contacts-bulk.json", data={"name": f"l{i}", "file_url": spelling + "x.csv"}
            )
            assert listed.status_code == 200, listed.text
        sent = http.post("/send-sms.json", data={"message": "loop", "to": "61400000200"})
        assert sent.status_code == 200, sent.text
        first = len(sandbox.state.messages)

        def settled() -> bool:
            deliveries = list(sandbox.callbacks.deliveries)
            imports = list(sandbox.account().imports.values())
            return (
                len(deliveries) >= len(SPELLINGS) + 1
                and all(d.status in ("delivered", "failed") for d in deliveries)
                and all(i.finished for i in imports)
            )

        wait_until(settled, 20)
        time.sleep(1.0)  # a loop, if any, keeps making messages meanwhile
        deliveries = list(sandbox.callbacks.deliveries)
        report["messages_sent"] = first
        report["messages_final"] = len(sandbox.state.messages)
        report["deliveries"] = [
            {"url": d.as_dict()["url"].split("?")[0], "status": d.status, "attempts": d.attempts}
            for d in deliveries
        ]
        report["imports"] = [
            {"failed": i.failed, "imported": i.imported} for i in sandbox.account().imports.values()
        ]
        report["loop_requests"] = [r for r in sandbox.requests if r["code"] == "CALLBACK_LOOP"]
    report["metadata_hits"] = metadata.hits
    metadata.shutdown()
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), "--allow" in sys.argv[2:])
