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
    assert str(balance.balance) == "1000"
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)  # anyio's default: every installed backend (asyncio, trio)


# --- The same user suite under each test runner a user may have ------------------------------------
# A user's suite is run by pytest-asyncio (strict mode, its default, or auto mode) or by anyio's plugin.
# Each test must run once per event loop it really runs on, with no warning (-W error turns any into a
# failure), and the sandbox must live on the loop that runs the test.

ASYNCIO_INI = """
[pytest]
asyncio_mode = {mode}
asyncio_default_fixture_loop_scope = function
"""

RUNNER_CHECK = """
import sniffio
import pytest


def assert_runs_on(request, expected):
    assert sniffio.current_async_library() == expected
    assert "trio" not in request.node.name or expected == "trio"


async def send_welcome(client, mobile):  # the user's code under test
    return await client.sms.send(message="Welcome aboard!", to=mobile)


async def app_welcomes(mobile):  # an app that builds its own client, from its own settings
    from smsapi_async import AsyncSmsClient

    async with AsyncSmsClient("app-key", "app-secret") as client:
        return await send_welcome(client, mobile)


async def check_respx_sandbox(respx_sandbox):
    sent = await app_welcomes("61491570151")
    await respx_sandbox.advance(5)
    async with respx_sandbox.client() as client:
        assert (await client.sms.stats(sent.message_id)).delivered == 1
    assert respx_sandbox.calls == ["send-sms", "get-sms-stats"]
"""

STRICT_TESTS = (
    RUNNER_CHECK
    + """
import pytest_asyncio

@pytest.mark.asyncio
async def test_sends(sms_sandbox, request):
    assert_runs_on(request, "asyncio")
    sent = await send_welcome(sms_sandbox.client, "61491570151")
    await sms_sandbox.advance(5)
    stats = await sms_sandbox.client.sms.stats(message_id=sent.message_id)
    assert stats.delivered == 1


@pytest_asyncio.fixture
async def welcomed(sms_sandbox):  # a user's own async fixture built on the plugin's
    return await send_welcome(sms_sandbox.client, "61491570151")


@pytest.mark.asyncio
async def test_user_fixture_on_top(sms_sandbox, welcomed, request):
    assert_runs_on(request, "asyncio")
    assert list(sms_sandbox.sandbox.state.messages) == [welcomed.message_id]


@pytest.mark.asyncio
async def test_respx_sandbox(respx_sandbox, request):
    assert_runs_on(request, "asyncio")
    await check_respx_sandbox(respx_sandbox)


@pytest.mark.asyncio(loop_scope="module")
async def test_module_scoped_loop(sms_sandbox, request):
    assert_runs_on(request, "asyncio")
    assert sms_sandbox.sandbox.state.messages == {}
    await send_welcome(sms_sandbox.client, "61491570151")
    await sms_sandbox.advance(5)  # needs the sandbox's worker, running on this same loop
"""
)

AUTO_TESTS = (
    RUNNER_CHECK
    + """
async def test_sends(sms_sandbox, request):
    assert_runs_on(request, "asyncio")
    await send_welcome(sms_sandbox.client, "61491570151")
    (message,) = sms_sandbox.sandbox.state.messages.values()
    assert message.text == "Welcome aboard!"


async def test_fresh_sandbox(sms_sandbox, request):
    assert_runs_on(request, "asyncio")
    assert sms_sandbox.sandbox.state.messages == {}


async def test_respx_sandbox(respx_sandbox, request):
    assert_runs_on(request, "asyncio")
    await check_respx_sandbox(respx_sandbox)
"""
)

ANYIO_TESTS = (
    RUNNER_CHECK
    + """
@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param


@pytest.mark.anyio
async def test_sends(sms_sandbox, anyio_backend, request):
    assert_runs_on(request, anyio_backend)
    sent = await send_welcome(sms_sandbox.client, "61491570151")
    await sms_sandbox.advance(5)
    stats = await sms_sandbox.client.sms.stats(message_id=sent.message_id)
    assert stats.delivered == 1


@pytest.fixture
async def welcomed(sms_sandbox):  # a user's own async fixture, run by anyio
    return await send_welcome(sms_sandbox.client, "61491570151")


@pytest.mark.anyio
async def test_user_fixture_on_top(sms_sandbox, welcomed, anyio_backend, request):
    assert_runs_on(request, anyio_backend)
    assert list(sms_sandbox.sandbox.state.messages) == [welcomed.message_id]


@pytest.mark.anyio
async def test_respx_sandbox(respx_sandbox, anyio_backend, request):
    assert_runs_on(request, anyio_backend)
    await check_respx_sandbox(respx_sandbox)
"""
)


def assert_no_warnings(result: pytest.RunResult) -> None:
    result.stdout.no_fnmatch_line("*warnings summary*")
    result.stdout.no_fnmatch_line("*Warning:*")


CONFIG_OVERRIDE = """
import pytest

from smsapi_async.sandbox import AccountConfig, SandboxConfig


@pytest.fixture
def sms_sandbox_config():  # a suite's own accounts, for both fixtures
    return SandboxConfig(rate_limit=0, accounts=(AccountConfig(api_key="k", api_secret="s", balance=7),))


@pytest.mark.MARKER
async def test_config_override(sms_sandbox, respx_sandbox):
    assert (await sms_sandbox.client.account.balance()).balance == 7
    assert respx_sandbox.sandbox.account("k").balance == 7
"""


def run_user_suite(
    pytester: pytest.Pytester, ini: str, tests: str, marker: str = "asyncio"
) -> pytest.RunResult:
    pytester.makeini(ini)
    pytester.makeconftest('pytest_plugins = ["smsapi_async.pytest_plugin"]\n')
    pytester.makepyfile(test_user=tests, test_config=CONFIG_OVERRIDE.replace("MARKER", marker))
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", "-W", "error")


def test_pytest_asyncio_strict_mode_runs_each_test_once_without_warnings(pytester: pytest.Pytester) -> None:
    result = run_user_suite(pytester, ASYNCIO_INI.format(mode="strict"), STRICT_TESTS)
    result.assert_outcomes(passed=5)
    result.stdout.no_fnmatch_line("*trio*")
    assert_no_warnings(result)
    result.stdout.fnmatch_lines(["*::test_sends PASSED*"])


def test_pytest_asyncio_auto_mode_runs_each_test_once_without_warnings(pytester: pytest.Pytester) -> None:
    result = run_user_suite(pytester, ASYNCIO_INI.format(mode="auto"), AUTO_TESTS)
    result.assert_outcomes(passed=4)
    result.stdout.no_fnmatch_line("*trio*")
    assert_no_warnings(result)


def test_anyio_plugin_runs_each_test_on_each_backend_without_warnings(pytester: pytest.Pytester) -> None:
    # pytest-asyncio is installed too (strict mode, its default): it must leave anyio's tests alone
    result = run_user_suite(pytester, ASYNCIO_INI.format(mode="strict"), ANYIO_TESTS, marker="anyio")
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(["*test_sends?asyncio? PASSED*", "*test_sends?trio? PASSED*"])
    assert_no_warnings(result)


def test_a_test_no_async_runner_runs_gets_a_clear_error(pytester: pytest.Pytester) -> None:
    result = run_user_suite(
        pytester,
        ASYNCIO_INI.format(mode="strict"),
        "def test_sync(sms_sandbox):\n    pass\n\nasync def test_unmarked(sms_sandbox):\n    pass\n",
    )
    result.assert_outcomes(errors=2, passed=1)
    result.stdout.fnmatch_lines(["*sms_sandbox needs an async test*@pytest.mark.asyncio*@pytest.mark.anyio*"])
