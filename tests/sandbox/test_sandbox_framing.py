"""Real clients' framing (finding 6 of the probe): the Ruby client recorded against the live API in 2015
builds ``Authorization: Basic …`` with ``Base64.encode64``, whose value ends in a newline. Its header
block ends ``…=\\n\\r\\n\\r\\n``: a bare-LF line ending, then the blank line, then a stray CRLF in front
of the next request on the connection. The live front end (nginx) served it; the sandbox answered a
plain-text ``400 Invalid HTTP request received.`` on every reused connection with h11 (16 of 35 calls)
and on every call with httptools (35 of 35).

Here each of the client's 35 recorded calls (method, path and query string as recorded, parameters
in the query, the Authorization header last) goes over one kept-alive socket, under each parser
uvicorn can pick and through ``serve_in_thread`` as users start it.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import pytest
import uvicorn
from support import example_json

from smsapi_async.sandbox import AccountConfig, Sandbox, SandboxConfig, serve_in_thread
from smsapi_async.sandbox._framing import tolerant_http_protocol

# (method, path and query) of the client's recorded calls; the 36th, a PUT, is the 411 test below
RECORDED = [
    (
        "POST",
        "/add-client.json?email=my@clienttest13.com&msisdn=%2B61491570156&name=my_client_test_13&password=p",
    ),
    ("POST", "/add-email.json?email=test@email.com"),
    ("POST", "/add-keyword.json?keyword=NEWS&number=61422222222"),
    ("POST", "/add-list.json?name=my_list"),
    ("POST", "/add-to-list.json?list_id=55314&msisdn=61491570158"),
    ("GET", "/cancel-sms.json?id=27741"),
    ("POST", "/delete-email.json?email=test@email.com"),
    ("POST", "/delete-from-list.json?list_id=55314&msisdn=61491570158"),
    ("POST", "/edit-keyword.json?keyword=NEWS&number=61422222222"),
    ("POST", "/edit-list-member.json?list_id=55314&msisdn=61400124714"),
    ("GET", "/format-number.json?countrycode=AU"),
    ("GET", "/format-number.json?countrycode=AU&msisdn=0455667889"),
    ("POST", "/get-balance.json"),
    ("GET", "/get-client.json?client_id=2024"),
    ("GET", "/get-clients.json"),
    ("POST", "/get-keywords.json?number=61422222222"),
    ("POST", "/get-list.json?list_id=55314"),
    ("POST", "/get-lists.json"),
    ("GET", "/get-message-log.json?message_id=50694&mobile=61422222222"),
    ("POST", "/get-number.json?number=%2B61422222222"),
    ("POST", "/get-numbers.json?filter=%2B61422222222"),
    ("GET", "/get-sms-responses.json?message_id=27746"),
    ("GET", "/get-sms-sent.json?message_id=27746"),
    ("GET", "/get-sms.json?message_id=1"),
    ("GET", "/get-sms.json?message_id=27746"),
    ("GET", "/get-transaction.json?id=17389227"),
    ("GET", "/get-transactions.json?client_id=2026"),
    ("GET", "/get-user-sms-responses.json?enddate=2015-04-20%2023:59:59&start=2015-09-13%2000:00:00"),
    ("POST", "/lease-number.json?number=0422222213"),
    ("POST", "/message-reply.json?from=61422222222&message=Testing%20API%20to%20field&to=61412345678"),
    ("POST", "/optout-list-member.json?list_id=55314&msisdn=61400233560"),
    ("POST", "/remove-list.json?list_id=55329"),
    ("POST", "/send-sms.json?message=Test%20error%20sending"),
    ("POST", "/send-sms.json?message=Testing%20API%20to%20field&to=61422222222"),
    ("POST", "/send-sms.json?list_id=55314&message=Testing%20API%20with%20list_id%20field"),
]
KEY, SECRET = "sandbox-key", "sandbox-secret"


def ruby_request(method: str, target: str, host: str) -> bytes:
    """The bytes as the client wrote them: ``encode64``'s newline ends the last header line."""
    encoded = base64.encodebytes(f"{KEY}:{SECRET}".encode()).decode()  # Ruby's encode64: ends in "\n"
    lines = [
        f"{method} {target} HTTP/1.1",
        f"Host: {host}",
        "Accept: application/json",
        "User-Agent: Swagger-Codegen/1.0.0/ruby",
    ]
    if method == "POST":
        lines += ["Content-Type: application/x-www-form-urlencoded", "Content-Length: 0"]
    lines.append(f"Authorization: Basic {encoded}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def one_connection(base_url: str, requests: list[tuple[str, str]]) -> list[tuple[int, dict[str, str], bytes]]:
    host_port = base_url.removeprefix("http://")
    host, _, port = host_port.partition(":")
    answers = []
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        reader = sock.makefile("rb")
        for method, target in requests:
            sock.sendall(ruby_request(method, target, host_port))
            status_line = reader.readline()
            assert status_line, f"the sandbox closed the connection before answering {method} {target}"
            headers: dict[str, str] = {}
            while (line := reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = reader.read(int(headers.get("content-length", "0")))
            answers.append((int(status_line.split()[1]), headers, body))
    return answers


@contextmanager
def served_with(sandbox: Sandbox, parser: Literal["h11", "httptools"]) -> Iterator[str]:
    sandbox.allowed_hosts = frozenset()
    config = uvicorn.Config(
        sandbox.app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        http=tolerant_http_protocol(parser),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn did not start"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def sandbox_for_the_recordings() -> Sandbox:
    return Sandbox(SandboxConfig(accounts=(AccountConfig(numbers=("61422222222",)),), rate_limit=0))


# the recorded error answers that do not depend on what the recorded account held
RECORDED_ERRORS = {
    "/format-number.json?countrycode=AU": "format-number.error-field-empty.json",
    "/get-sms.json?message_id=1": "get-sms.error-not-found.json",
    "/lease-number.json?number=0422222213": "lease-number.error-field-invalid.json",
    "/send-sms.json?message=Test%20error%20sending": "send-sms.error-missing-to-and-list-id.json",
}


def check(answers: list[tuple[int, dict[str, str], bytes]]) -> None:
    assert len(answers) == len(RECORDED)
    for (method, target), (status, headers, body) in zip(RECORDED, answers, strict=True):
        assert headers["content-type"].startswith("application/json"), (method, target, status, body)
        payload = json.loads(body)  # every answer in the API's own format
        code = payload["error"]["code"]
        assert code != "AUTH_FAILED", (method, target)  # the header with its newline authenticates
        assert (status == 200) == (code == "SUCCESS"), (method, target, status, code)
        if target in RECORDED_ERRORS:
            assert payload == example_json(f"captured-2015/{RECORDED_ERRORS[target]}")
        elif status != 200:  # ids the recorded account had and a fresh sandbox lacks
            assert code in ("NOT_FOUND", "FIELD_INVALID"), (method, target, payload)


@pytest.mark.parametrize("parser", ["h11", "httptools"])
def test_6_the_ruby_clients_35_calls_pass_over_one_kept_alive_connection(
    parser: Literal["h11", "httptools"],
) -> None:
    with served_with(sandbox_for_the_recordings(), parser) as url:
        check(one_connection(url, RECORDED))


def test_6_as_users_serve_it() -> None:
    with serve_in_thread(sandbox_for_the_recordings()) as url:
        check(one_connection(url, RECORDED))


@pytest.mark.parametrize("parser", ["h11", "httptools"])
def test_6_nothing_else_is_relaxed(parser: Literal["h11", "httptools"]) -> None:
    """Only empty lines before a request line and bare-LF line endings are accepted: a control byte
    in front of a request line is still refused (400, connection closed)."""
    with served_with(sandbox_for_the_recordings(), parser) as url:
        host, _, port = url.removeprefix("http://").partition(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"\r\n\x01GET /get-balance.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    assert data.startswith(b"HTTP/1.1 400 ")
