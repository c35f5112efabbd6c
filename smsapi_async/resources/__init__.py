"""One resource per API area, each a thin view over the client's one request path.

Each is imported on first use (``client.sms`` or a name from here), with the models it returns.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .account import AccountResource
    from .email import EmailResource
    from .keywords import KeywordsResource
    from .lists import ListsResource
    from .numbers import NumbersResource
    from .reports import SmsReports
    from .resellers import ResellersResource
    from .sms import SmsResource

if not TYPE_CHECKING:  # type checkers see the imports above, and no other name
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "AccountResource": ".account",
            "EmailResource": ".email",
            "KeywordsResource": ".keywords",
            "ListsResource": ".lists",
            "NumbersResource": ".numbers",
            "ResellersResource": ".resellers",
            "SmsReports": ".reports",
            "SmsResource": ".sms",
        },
    )

__all__ = [
    "AccountResource",
    "EmailResource",
    "KeywordsResource",
    "ListsResource",
    "NumbersResource",
    "ResellersResource",
    "SmsReports",
    "SmsResource",
]
