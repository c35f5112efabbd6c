"""``smsapi``: the command line (``pip install "smsapi-async[cli]"``).

Credentials come from ``$SMSAPI_API_KEY`` / ``$SMSAPI_API_SECRET`` or a profile in
``~/.config/smsapi/config.ini`` (``$SMSAPI_CONFIG`` to move it, ``--profile`` / ``$SMSAPI_PROFILE`` to
pick one), never from the command line::

    [default]
    api_key = ...
    api_secret = ...
    base_url = https://api.transmitsms.com
    rate_limit = 2

Data goes to stdout (``-o json`` for scripts), logs and progress to stderr. Exit codes: 0 success
(for ``bulk``: every valid recipient sent; rows rejected for their own content are listed, and are
failures only with ``--strict``), 1 partial failure (some recipients not sent, or their outcome
unknown), 2 bad input (nothing sent), 3 failure (the API or the network refused; nothing sent).
A config file holding the secret should be readable by its owner only (a warning says so).
"""

from __future__ import annotations

try:
    import click  # noqa: F401
    import rich  # noqa: F401
except ImportError as exc:  # pragma: no cover - the message is the point
    raise SystemExit(f'smsapi needs the "cli" extra: pip install "smsapi-async[cli]" ({exc})') from None

from . import _bulk, _commands  # noqa: F401 (they add their commands to the group)
from ._app import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, cli

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILURE", "EXIT_OK", "EXIT_PARTIAL", "cli", "main"]


def main(argv: list[str] | None = None) -> None:
    """The ``smsapi`` console script."""
    cli.main(args=argv, prog_name="smsapi")
