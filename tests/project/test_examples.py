"""The worked examples in examples/ pass their own test suites, run as their users run them."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support import ROOT

EXAMPLES = ROOT / "examples"


@pytest.mark.parametrize("example", ["fastapi_booking"])
def test_example_suite_passes_without_warnings(example: str) -> None:
    # in the example's own directory, with its own pytest settings (pytest-asyncio, strict mode)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-W", "error", "-q"],
        cwd=EXAMPLES / example,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout
    assert "warning" not in result.stdout.lower()
