"""The sandbox's call handlers are laid out like the client's resources: one module per API area.

``smsapi_async/resources/<area>.py`` makes some API calls; ``smsapi_async/sandbox/handlers/<area>.py``
answers exactly those. Helpers the handlers share live in ``handlers/_shared.py``; no handler module
imports from a sibling, so a newcomer knows where a new call goes and what it may use.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import smsapi_async.resources
import smsapi_async.sandbox.handlers
from smsapi_async.sandbox.handlers import CLIENT_CALL_ONLY, HANDLERS

RESOURCES = Path(smsapi_async.resources.__file__).parent
HANDLER_DIR = Path(smsapi_async.sandbox.handlers.__file__).parent
SHARED = "_shared"


def _areas(folder: Path) -> set[str]:
    return {p.stem for p in folder.glob("*.py") if not p.stem.startswith("_")}


def calls_made_by(module: Path) -> set[str]:
    """API call names a resource module passes to ``self._call`` / ``self._read`` / ``self._paginate``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("_call", "_read", "_paginate")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def test_every_resource_area_has_a_handler_module_and_no_other() -> None:
    assert _areas(HANDLER_DIR) == _areas(RESOURCES)


@pytest.mark.parametrize("area", sorted(_areas(RESOURCES)))
def test_each_handler_module_answers_the_calls_its_resource_makes(area: str) -> None:
    module = getattr(smsapi_async.sandbox.handlers, area)
    assert set(module.HANDLERS) == calls_made_by(RESOURCES / f"{area}.py")


def test_the_sandbox_answers_exactly_the_calls_the_client_makes() -> None:
    made = set().union(*(calls_made_by(RESOURCES / f"{a}.py") for a in _areas(RESOURCES)))
    assert made, "the resource modules make no calls: the AST walk is broken"
    assert set(HANDLERS) == made | set(CLIENT_CALL_ONLY)
    assert not made & set(CLIENT_CALL_ONLY)


@pytest.mark.parametrize(
    "path", [*sorted(HANDLER_DIR.glob("[!_]*.py")), HANDLER_DIR / "_shared.py"], ids=lambda p: p.name
)
def test_no_handler_module_imports_from_a_sibling(path: Path) -> None:
    siblings = _areas(HANDLER_DIR)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            imported = {(node.module or "").split(".")[0]} | {a.name for a in node.names if not node.module}
            assert not imported & siblings, f"{path.name} imports from sibling {imported & siblings}"
