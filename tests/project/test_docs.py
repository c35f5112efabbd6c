"""The documentation's promises: the README's quick start, and every code example of the README and
of docs/, run against the sandbox."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from docs_pages import PAGES, README, ROOT, all_python_blocks, page, section

import smsapi_async
from smsapi_async.sandbox import Sandbox, SandboxConfig, serve_in_thread
from smsapi_async.testing import sandbox_client

pytest_plugins = ["pytester"]

BLOCKS = all_python_blocks()
EXAMPLES = [(name, block) for name, block in BLOCKS if "async def example(client" in block]
# "Testing your app" is a small project, one file per block, each opening with "# <file name>"
TESTING_SECTION = page("testing.md")
PROJECT_FILES = dict(
    re.findall(r"```(?:python|toml)\n# ([\w.]+)[^\n]*\n(.*?)```", TESTING_SECTION, flags=re.S)
)
TESTS = [
    (name, block)
    for name, block in BLOCKS
    if "async def test_" in block and not any(block.startswith(f"# {file}") for file in PROJECT_FILES)
]


def load(block: str, name: str = "README.md") -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(block, name, "exec"), namespace)
    return namespace


def test_the_quick_start_is_two_commands_and_ci_runs_the_same_test_command() -> None:
    quick_start = section(README, "## Quick start")
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
    for name, block in BLOCKS:
        compile(block, name, "exec")


@pytest.mark.anyio
@pytest.mark.parametrize("response_format", ["json", "xml"])
@pytest.mark.parametrize("index", range(len(EXAMPLES)))
async def test_documented_example_runs_against_the_sandbox(index: int, response_format: str) -> None:
    example: Callable[..., Any] = load(EXAMPLES[index][1], EXAMPLES[index][0])["example"]
    async with sandbox_client(response_format=response_format) as sms:  # type: ignore[arg-type]
        await example(sms.client)


@pytest.mark.anyio
@pytest.mark.parametrize("index", range(len(TESTS)))
async def test_documented_test_example_passes(index: int) -> None:
    namespace = load(TESTS[index][1], TESTS[index][0])
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


def test_the_readme_fits_on_a_screen_and_links_into_the_docs() -> None:
    assert len(README.splitlines()) <= 300
    linked = set(re.findall(r"\]\((docs/[\w-]+\.md)\)", README))
    assert {name for name in PAGES if name.startswith("docs/")} - linked <= {"docs/index.md"}
    for name in linked:
        assert (ROOT / name).is_file(), name


def test_nothing_cites_a_source_outside_the_repository() -> None:
    files = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "smsapi_async").rglob("*.py")]
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"REFERENCE(?:\.md| ?§)|§ ?\d", text), path  # ("§" alone is a GSM-7 character)


@pytest.mark.anyio
async def test_every_documented_example_runs_on_one_fresh_sandbox_without_topping_up() -> None:
    """The sandbox's starting credit covers every example, run one after another."""
    async with sandbox_client() as sms:
        for name, block in EXAMPLES:
            await load(block, name)["example"](sms.client)
        assert (await sms.client.account.balance()).balance > 0


def test_the_documented_config_file_works_uncommented(tmp_path: Path) -> None:
    """Each documented profile line, and each commented-out one, is a setting the CLI accepts."""
    (sample,) = re.findall(r"```ini\n(.*?)```", page("bulk.md"), flags=re.S)
    settings = [line.lstrip("; ") for line in sample.splitlines() if "=" in line]
    assert any(line.startswith("base_url") for line in settings)
    with serve_in_thread(Sandbox(SandboxConfig())) as url:
        config = "[default]\n" + "\n".join(settings).replace("http://127.0.0.1:8765", url)
        config = config.replace("your-key", "sandbox-key").replace("your-secret", "sandbox-secret")
        path = tmp_path / "config.ini"
        path.write_text(config, encoding="utf-8")
        path.chmod(0o600)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMSAPI_")} | {
            "SMSAPI_CONFIG": str(path)
        }
        done = subprocess.run(
            [sys.executable, "-m", "smsapi_async.cli", "balance", "-o", "json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["currency"] == "AUD"


def test_the_site_builds_strictly_with_a_reference_entry_for_every_public_name(tmp_path: Path) -> None:
    site = tmp_path / "site"
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    reference = (site / "reference" / "index.html").read_text(encoding="utf-8")
    anchors = set(re.findall(r'id="smsapi_async\.(\w+)"', reference))
    missing = [name for name in smsapi_async.__all__ if name not in anchors and name != "__version__"]
    assert not missing
    benchmarks = (site / "benchmarks" / "index.html").read_text(encoding="utf-8")
    assert "Targets" in benchmarks  # benchmarks/RESULTS.md, included as it stands
