"""The ``sms_sandbox`` fixture, as a user's suite gets it from ``smsapi_async.pytest_plugin``."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_CONFTEST = """
import pytest

pytest_plugins = ["smsapi_async.pytest_plugin"]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param
"""

USER_TESTS = """
import pytest

from smsapi_async import NotFoundError
from smsapi_async.testing import SandboxHarness


async def send_welcome(client, mobile):  # the user's code under test
    return await client.sms.send(message="Welcome aboard!", to=mobile)


@pytest.mark.anyio
async def test_welcome_sms_is_sent(sms_sandbox):
    assert isinstance(sms_sandbox, SandboxHarness)
    sent = await send_welcome(sms_sandbox.client, "61491570151")
    (message,) = sms_sandbox.sandbox.state.messages.values()
    assert "Welcome" in message.text
    assert message.id == sent.message_id


@pytest.mark.anyio
async def test_virtual_time_delivers_without_sleeping(sms_sandbox):
    sent = await send_welcome(sms_sandbox.client, "61491570151")
    await sms_sandbox.advance(5)
    stats = await sms_sandbox.client.sms.stats(message_id=sent.message_id)
    assert stats.delivered == 1


@pytest.mark.anyio
async def test_each_test_gets_a_fresh_sandbox(sms_sandbox):
    assert sms_sandbox.sandbox.state.messages == {}
    with pytest.raises(NotFoundError):
        await sms_sandbox.client.sms.get(message_id=1)
"""


def test_sms_sandbox_fixture_runs_a_user_suite_under_both_anyio_backends(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(USER_CONFTEST)
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(
        ["*test_welcome_sms_is_sent?asyncio? PASSED*", "*test_welcome_sms_is_sent?trio? PASSED*"]
    )


def test_sms_sandbox_fixture_works_with_anyio_default_backends(pytester: pytest.Pytester) -> None:
    """Without an ``anyio_backend`` of their own, users get anyio's default: every installed backend."""
    pytester.makeconftest('pytest_plugins = ["smsapi_async.pytest_plugin"]\n')
    pytester.makepyfile(
        test_user="""
import pytest

@pytest.mark.anyio
async def test_balance(sms_sandbox):
    balance = await sms_sandbox.client.account.balance()
    assert str(balance.balance) == "100"
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)  # anyio's default: every installed backend (asyncio, trio)
