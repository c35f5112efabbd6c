"""The typed sample script (tests/sample_usage.py) is correct code, not only well-typed."""

from __future__ import annotations

import pytest
from sample_usage import tour

from smsapi_async.testing import sandbox_client


@pytest.mark.anyio
async def test_the_typed_sample_runs_against_the_sandbox() -> None:
    async with sandbox_client() as sms:
        result = await tour(sms.client)
    assert result["cancelled"] is True
    assert result["recipients"] == ["61400000001"]
    assert result["contact"] == "61400000003"
