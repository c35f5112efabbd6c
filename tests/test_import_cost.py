"""`import smsapi_async` stays cheap: heavy dependencies load on first use, names stay importable."""

from __future__ import annotations

import subprocess
import sys

import pytest

import smsapi_async


def fresh_python(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    ).stdout.strip()


def test_importing_the_package_loads_no_http_stack_until_a_name_is_used() -> None:
    loaded = fresh_python(
        "import sys, smsapi_async\n"
        "print(sorted(m for m in ('httpx', 'httpcore', 'attrs', 'anyio', 'smsapi_async._client') "
        "if m in sys.modules))"
    )
    assert loaded == "[]"


def test_every_public_name_resolves_and_star_import_works() -> None:
    for name in smsapi_async.__all__:
        assert getattr(smsapi_async, name) is not None, name
    assert set(smsapi_async.__all__) <= set(dir(smsapi_async))
    names = fresh_python(
        "from smsapi_async import *\nfrom smsapi_async import AsyncSmsClient, RateLimiter\n"
        "print(AsyncSmsClient.__module__, RateLimiter.__module__, len(dir()))"
    )
    assert names.startswith("smsapi_async._client smsapi_async._limiter")


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        smsapi_async.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
