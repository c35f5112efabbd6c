"""The README's promises: its quick start, and every code example, run against the sandbox."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from smsapi_async.testing import sandbox_client

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)
EXAMPLES = [block for block in BLOCKS if "async def example(client" in block]
# "Testing your app" is a small project, one file per block, each opening with "# <file name>"
TESTING_SECTION = README.split("## Testing your app", 1)[1].split("\n## ", 1)[0]
PROJECT_FILES = dict(
    re.findall(r"```(?:python|toml)\n# ([\w.]+)[^\n]*\n(.*?)```", TESTING_SECTION, flags=re.S)
)
TESTS = [
    block
    for block in BLOCKS
    if "async def test_" in block and not any(block.startswith(f"# {name}") for name in PROJECT_FILES)
]


def load(block: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(block, "README.md", "exec"), namespace)
    return namespace


def test_the_quick_start_is_two_commands_and_ci_runs_the_same_test_command() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("##", 1)[0]
    (commands,) = re.findall(r"```sh\n(.*?)```", quick_start, flags=re.S)
    lines = [line.split("#", 1)[0].strip() for line in commands.strip().splitlines()]
    assert len(lines) == 2
    demo, tests = lines
    assert demo.endswith("nox -s demo")
    assert tests.endswith("nox -s tests")
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests.split("&& ", 1)[1] in ci
    assert "nox -s demo" in ci


def test_every_python_block_compiles() -> None:
    assert len(BLOCKS) >= 7
    for block in BLOCKS:
        compile(block, "README.md", "exec")


@pytest.mark.anyio
@pytest.mark.parametrize("response_format", ["json", "xml"])
@pytest.mark.parametrize("index", range(len(EXAMPLES)))
async def test_readme_example_runs_against_the_sandbox(index: int, response_format: str) -> None:
    example: Callable[..., Any] = load(EXAMPLES[index])["example"]
    async with sandbox_client(response_format=response_format) as sms:  # type: ignore[arg-type]
        await example(sms.client)


@pytest.mark.anyio
@pytest.mark.parametrize("index", range(len(TESTS)))
async def test_readme_test_example_passes(index: int) -> None:
    namespace = load(TESTS[index])
    (test,) = [value for name, value in namespace.items() if name.startswith("test_")]
    await test()


def test_the_testing_your_app_section_is_a_project_whose_tests_pass_without_warnings(
    pytester: pytest.Pytester,
) -> None:
    assert set(PROJECT_FILES) == {"pyproject.toml", "app.py", "conftest.py", "test_booking.py"}
    for name, text in PROJECT_FILES.items():
        (pytester.path / name).write_text(text, encoding="utf-8")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=1)
