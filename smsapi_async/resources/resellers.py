"""``client.resellers``: a reseller's client accounts, their ledgers, and acting as a client."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from .._exceptions import InvalidRequestError
from .._pagination import AsyncPaginator, PageSpec
from .._sms_text import check_email, normalise_number
from .._validate import (
    aware_datetime,
    non_empty,
    one_of,
    optional_amount,
    optional_flag,
    optional_str,
    optional_text,
    positive_id,
)
from ..models.resellers import Client, Transaction
from ._base import Resource

if TYPE_CHECKING:
    from .._client import AsyncSmsClient

__all__ = ["ResellersResource"]

MAX_API_SECRET = 255
_PAYMENT_METHODS = ("fixed", "variable")


def _account_fields(
    *,
    contact: str | None,
    timezone: str | None,
    client_pays: bool | None,
    sms_margin: Decimal | float | None,
    payment_method: str | None,
    fixed_top_up_amount: Decimal | float | None,
) -> dict[str, Any]:
    """Optional settings add-client and edit-client share, checked; ``None`` is not sent."""
    one_of("payment_method", payment_method, _PAYMENT_METHODS)
    if fixed_top_up_amount is not None and payment_method != "fixed":
        raise InvalidRequestError("fixed_top_up_amount goes with payment_method='fixed'")
    return {
        "contact": optional_str("contact", contact),
        "timezone": optional_str("timezone", timezone),
        "client_pays": optional_flag("client_pays", client_pays),
        "sms_margin": optional_amount("sms_margin", sms_margin),
        "payment_method": payment_method,
        "fixed_top_up_amount": optional_amount("fixed_top_up_amount", fixed_top_up_amount),
    }


class ResellersResource(Resource):
    """Reseller accounts only: client accounts and their transactions.

    Each client account has its own credentials and rate limit; :meth:`for_client` gives a
    client object acting as it. Every call here is **legacy**: documented in older articles and
    recorded in 2015, but not listed by the current published specification.
    """

    __slots__ = ()

    def clients(
        self, *, page_size: int = 100, start_page: int = 1, limit: int | None = None
    ) -> AsyncPaginator[Client]:
        """Every client account, lazily. Calls ``get-clients``."""
        spec = PageSpec("clients", ("clients_total",))
        return self._paginate(
            "get-clients", {}, spec, Client.from_api, page_size=page_size, start_page=start_page, limit=limit
        )

    async def get_client(self, client_id: int) -> Client:
        """One client account. Calls ``get-client``."""
        params = {"client_id": positive_id("client_id", client_id)}
        return await self._read("get-client", params, Client.from_api)

    async def add_client(
        self,
        name: str,
        email: str,
        password: str,
        msisdn: str,
        *,
        contact: str | None = None,
        timezone: str | None = None,
        client_pays: bool | None = None,
        sms_margin: Decimal | float | None = None,
        number_margin: Decimal | float | None = None,
        api_secret: str | None = None,
        payment_method: Literal["fixed", "variable"] | None = None,
        fixed_top_up_amount: Decimal | float | None = None,
    ) -> Client:
        """Create a client account; ``email`` is its login (taken: ``KeyExistsError``).

        ``client_pays=False`` makes the reseller pay; ``sms_margin`` / ``number_margin`` are cents
        added to each SMS / number price; ``timezone`` (e.g. ``"Australia/Sydney"``) defaults to
        the reseller's; ``api_secret`` (up to 255 characters) is generated if omitted.
        Calls ``add-client``.
        """
        if optional_str("api_secret", api_secret, max_length=MAX_API_SECRET) == "":
            raise InvalidRequestError(f"api_secret must be 1 to {MAX_API_SECRET} characters")
        params = {
            "name": non_empty("name", name),
            "email": check_email("email", email),
            "password": non_empty("password", password),
            "msisdn": normalise_number("msisdn", msisdn),
            "number_margin": optional_amount("number_margin", number_margin),
            "api_secret": api_secret,
            **_account_fields(
                contact=contact,
                timezone=timezone,
                client_pays=client_pays,
                sms_margin=sms_margin,
                payment_method=payment_method,
                fixed_top_up_amount=fixed_top_up_amount,
            ),
        }
        return await self._read("add-client", params, Client.from_api)

    async def edit_client(
        self,
        client_id: int,
        *,
        name: str | None = None,
        contact: str | None = None,
        email: str | None = None,
        password: str | None = None,
        msisdn: str | None = None,
        timezone: str | None = None,
        client_pays: bool | None = None,
        sms_margin: Decimal | float | None = None,
        payment_method: Literal["fixed", "variable"] | None = None,
        fixed_top_up_amount: Decimal | float | None = None,
    ) -> Client:
        """Change a client account; only what is given is sent (at least one setting).

        Calls ``edit-client``.
        """
        changes = {
            "name": optional_text("name", name),
            "email": None if email is None else check_email("email", email),
            "password": optional_text("password", password),
            "msisdn": None if msisdn is None else normalise_number("msisdn", msisdn),
            **_account_fields(
                contact=contact,
                timezone=timezone,
                client_pays=client_pays,
                sms_margin=sms_margin,
                payment_method=payment_method,
                fixed_top_up_amount=fixed_top_up_amount,
            ),
        }
        if all(value is None for value in changes.values()):
            raise InvalidRequestError("edit_client needs at least one setting to change")
        params = {"client_id": positive_id("client_id", client_id), **changes}
        return await self._read("edit-client", params, Client.from_api)

    def transactions(
        self,
        client_id: int,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        page_size: int = 100,
        start_page: int = 1,
        limit: int | None = None,
    ) -> AsyncPaginator[Transaction]:
        """A client account's ledger entries, optionally from ``start`` to ``end`` (aware datetimes).

        Calls ``get-transactions``.
        """
        start_utc = aware_datetime("start", start)
        end_utc = aware_datetime("end", end)
        if start_utc is not None and end_utc is not None and start_utc > end_utc:
            raise InvalidRequestError("start must not be after end")
        params = {"client_id": positive_id("client_id", client_id), "start": start_utc, "end": end_utc}
        spec = PageSpec("transactions", ("transactions_total",))
        return self._paginate(
            "get-transactions",
            params,
            spec,
            Transaction.from_api,
            page_size=page_size,
            start_page=start_page,
            limit=limit,
        )

    async def get_transaction(self, transaction_id: int) -> Transaction:
        """One ledger entry by id. Calls ``get-transaction``."""
        params = {"id": positive_id("transaction_id", transaction_id)}
        return await self._read("get-transaction", params, Transaction.from_api)

    def for_client(self, client: Client | tuple[str, str]) -> AsyncSmsClient:
        """A client object acting as a client account: ``client`` from :meth:`get_client` /
        :meth:`clients`, or its ``(apikey, apisecret)``.

        It has this client's base URL, format and retry options, its own rate limiter (limits are
        per account), and shares this client's connections, so use it while this client is open.
        See :meth:`AsyncSmsClient.with_credentials`.
        """
        if isinstance(client, Client):
            key, secret = client.apikey, client.apisecret
        elif isinstance(client, tuple) and len(client) == 2:
            key, secret = client
        else:
            raise InvalidRequestError("pass a Client or an (apikey, apisecret) pair")
        if not isinstance(key, str) or not key.strip() or not isinstance(secret, str) or not secret.strip():
            raise InvalidRequestError(
                "this client account has no API key and secret; set them (edit-client / the web app) first"
            )
        return self._client.with_credentials(key, secret)
