"""Developer tasks: ``nox -s tests``, ``lint``, ``typecheck``, ``docs``, ``demo``, ``bench``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

SOURCES = ["smsapi_async", "tests", "benchmarks", "noxfile.py", "examples"]


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite, under asyncio and trio, in 4 processes (pytest-xdist: many tests wait on
    real sockets and real time, so even 2 cores keep 4 busy; ``-- -n 0`` runs it in one process,
    ``-- tests/limiter`` one folder). Each file runs on one worker, so a module-scoped fixture is
    made once."""
    session.install("-e", ".[test]")
    session.run("pytest", "-n", "4", "--dist", "loadfile", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site, built strictly into site/ (a broken link or reference fails)."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", *session.posargs, env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint rules and formatting."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", *SOURCES)
    session.run("ruff", "format", "--check", *SOURCES)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package (settings in pyproject.toml)."""
    session.install("-e", ".[test]", "mypy>=1.10")
    session.run("mypy")
    session.run("mypy", "--strict", "tests/sample_usage.py")  # the public API as a user's script sees it
    session.run("mypy", "--strict", "examples/fastapi_booking")  # a user's app and its tests


@nox.session
def demo(session: nox.Session) -> None:
    """The demo: a real client against the embedded sandbox; no credentials, no network."""
    session.install("-e", ".[sandbox]")
    session.run("python", "-m", "smsapi_async.demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Every benchmark, repeated, next to its alternatives: writes benchmarks/RESULTS.md
    (``-- --quick`` for a smoke run, ``-- --only peers`` for some; ``python -m benchmarks`` prints)."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "benchmarks.results", *session.posargs)


@nox.session
def soak(session: nox.Session) -> None:
    """The reliability soak: chaos rounds for 5 minutes per backend, memory must stay flat
    (``SMSAPI_SOAK_SECONDS`` shortens it). The default test run deselects it."""
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "soak", "-s", "tests/reliability", *session.posargs)


@nox.session
def bench_shared(session: nox.Session) -> None:
    """The shared (Redis-backed) limiters side by side; needs redis-server (``-- --quick``)."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "benchmarks.shared_limiter", *session.posargs)
