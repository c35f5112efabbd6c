"""One resource per API area, each a thin view over the client's one request path."""

from .account import AccountResource
from .email import EmailResource
from .keywords import KeywordsResource
from .lists import ListsResource
from .numbers import NumbersResource
from .reports import SmsReports
from .resellers import ResellersResource
from .sms import SmsResource

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
