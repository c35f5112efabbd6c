"""The documentation as the tests read it: README.md and every page of docs/, and their code blocks."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = {"README.md": README} | {
    f"docs/{page.name}": page.read_text(encoding="utf-8") for page in sorted((ROOT / "docs").glob("*.md"))
}


def page(name: str) -> str:
    """One page's text: ``"README.md"`` or a page of docs/ by its file name (``"callbacks.md"``)."""
    return PAGES[name if name == "README.md" else f"docs/{name}"]


def section(text: str, heading: str) -> str:
    """The text under ``heading`` (a whole heading line, e.g. ``"## Testing your app"``), up to the
    next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    body = text.split(heading + "\n", 1)[1]
    stop = re.search(rf"^#{{1,{len(level)}}} ", body, flags=re.M)
    return body if stop is None else body[: stop.start()]


def python_blocks(text: str) -> list[str]:
    """Every fenced ``python`` block of ``text``, in order."""
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def all_python_blocks() -> list[tuple[str, str]]:
    """(page, block) for every fenced ``python`` block of every page."""
    return [(name, block) for name, text in PAGES.items() for block in python_blocks(text)]
