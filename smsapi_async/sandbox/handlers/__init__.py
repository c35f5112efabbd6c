"""The sandbox's API call handlers, one module per API area as in ``smsapi_async/resources/``.

Each module's ``HANDLERS`` maps the call names that area's resource makes to functions
``(Context, Params) -> payload``; a failure raises :class:`~smsapi_async.sandbox._params.ApiFailure`.
Helpers the areas share (rendering of numbers, money and message summaries, look-ups of the caller's
messages, lists, clients and numbers, URL checks) are in ``_shared.py``; the modules never import
from each other. A new call goes in the module named like the resource that makes it.
"""

from __future__ import annotations

from .._params import Handler
from . import account, email, keywords, lists, numbers, reports, resellers, sms

__all__ = ["CLIENT_CALL_ONLY", "HANDLERS"]

#: Calls the sandbox emulates although no resource makes them (reachable through ``client.call``).
CLIENT_CALL_ONLY: frozenset[str] = frozenset()

HANDLERS: dict[str, Handler] = {
    **sms.HANDLERS,
    **reports.HANDLERS,
    **lists.HANDLERS,
    **numbers.HANDLERS,
    **keywords.HANDLERS,
    **email.HANDLERS,
    **account.HANDLERS,
    **resellers.HANDLERS,
}
