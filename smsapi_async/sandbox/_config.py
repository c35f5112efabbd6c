"""Configuration of the sandbox: accounts, rate limit, timings, delivery rules and chaos.

Everything is an immutable ``attrs`` class with keyword-only arguments and development-friendly defaults.
"""

from __future__ import annotations

import math

import attrs

__all__ = ["AccountConfig", "ChaosConfig", "DeliveryRules", "SandboxConfig", "rate_problem"]


def rate_problem(rate: float) -> str | None:
    """Why ``rate`` is not a rate the sandbox enforces exactly (the client's limiter takes the same):
    ``0`` (off), a whole number of calls per second, or a rate below 1 (``0.5``: one call every 2 s)."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) or rate < 0:
        return f"must be a number of calls per second, 0 or more, got {rate!r}"
    if rate > 1 and not float(rate).is_integer():
        return (
            f"must be a whole number of calls per second, or below 1 (0.5 = one call every 2 s), "
            f"or 0 for no limit; got {rate!r}"
        )
    return None


def _rate(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    problem = rate_problem(value)
    if problem is not None:
        raise ValueError(f"{attribute.name} {problem}")


def _probability(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value!r}")


def _non_negative(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


@attrs.frozen(kw_only=True)
class AccountConfig:
    """An account that exists when the sandbox starts (the demo account by default).

    ``numbers`` are virtual numbers already leased by the account; ``sender_ids`` are other senders
    approved for it (mobile numbers, business names), listed by ``get-sender-ids``. A numeric ``from``
    must be one of these or a leased number (else ``BAD_CALLER_ID``, as the API answers an unapproved
    sender). ``reseller`` accounts may use the client calls (add-client, get-clients, ...). Callback
    URLs are the account defaults of the SETTINGS page, used when neither the call nor a
    number/keyword names one.
    """

    api_key: str = "sandbox-key"
    api_secret: str = "sandbox-secret"
    name: str = "Sandbox Account"
    email: str = "sandbox@example.com"
    msisdn: str = "61491570150"  # the account holder's mobile (a number reserved for fiction in Australia)
    balance: float = 1000.0  # enough for every example in the docs, run one after another
    currency: str = "AUD"
    timezone: str = "Australia/Sydney"
    reseller: bool = True
    numbers: tuple[str, ...] = ("61400000000",)
    sender_ids: tuple[str, ...] = ()
    dlr_callback: str | None = None
    reply_callback: str | None = None
    link_hits_callback: str | None = None


@attrs.frozen(kw_only=True)
class DeliveryRules:
    """Deterministic fate of a recipient, decided by the end of its number.

    The first matching rule wins, in the order hard bounce, soft bounce, never answered; every other
    number is delivered. A "never answered" recipient stays ``pending`` until its ``validity`` (or
    ``pending_expiry`` seconds) runs out and then soft-bounces.
    """

    hard_bounce_suffixes: tuple[str, ...] = ("9",)
    soft_bounce_suffixes: tuple[str, ...] = ("8",)
    pending_suffixes: tuple[str, ...] = ("000",)

    def fate(self, msisdn: str) -> str:
        """``"hard-bounce"``, ``"soft-bounce"``, ``"pending"`` or ``"delivered"`` for this number."""
        if msisdn.endswith(self.hard_bounce_suffixes):
            return "hard-bounce"
        if msisdn.endswith(self.soft_bounce_suffixes):
            return "soft-bounce"
        if self.pending_suffixes and msisdn.endswith(self.pending_suffixes):
            return "pending"
        return "delivered"


@attrs.frozen(kw_only=True)
class ChaosConfig:
    """Random misbehaviour for reliability testing; every probability is per API request.

    At most one fault is chosen per request, checked in the order listed here. ``slow`` adds
    ``slow_seconds`` of real delay and still answers normally. Seeded by ``SandboxConfig.seed``.
    """

    over_limit: float = attrs.field(default=0.0, validator=_probability)
    server_error: float = attrs.field(default=0.0, validator=_probability)
    drop_before: float = attrs.field(default=0.0, validator=_probability)
    drop_after: float = attrs.field(default=0.0, validator=_probability)
    slow: float = attrs.field(default=0.0, validator=_probability)
    slow_seconds: float = attrs.field(default=5.0, validator=_non_negative)

    @property
    def enabled(self) -> bool:
        return any((self.over_limit, self.server_error, self.drop_before, self.drop_after, self.slow))


@attrs.frozen(kw_only=True)
class SandboxConfig:
    """Everything the sandbox needs; the defaults favour development.

    * ``rate_limit``: accepted calls per account in any sliding 1-second window (``0`` disables); a
      whole number, or below 1 for one call per ``1 / rate_limit`` seconds (``0.5``: one every 2 s).
    * ``jitter``: up to this many real seconds of random delay before a request is processed,
      i.e. before it is counted by the rate limiter, like a real network.
    * ``delivery_delay``: seconds after sending at which a recipient's DLR arrives.
    * ``pending_expiry``: seconds after which a never-answered message expires (soft-bounce);
      the real platform uses 72 hours.
    * ``callback_retry_delays`` are the documented retry schedule (1 min, 5 min, 1 h, 24 h), multiplied
      by ``callback_retry_scale``; ``callback_timeout`` bounds each attempt (real seconds).
    * ``allow_link_local``: let callbacks and ``add-contacts-bulk``'s ``file_url`` reach link-local
      addresses (``169.254.0.0/16``, ``fe80::/10``: where cloud metadata services answer); refused by
      default, whatever the URL's spelling or its host name's DNS answer.
    * ``price_per_sms``: cost of one message part; ``number_price``: monthly price of a virtual number.
    * ``max_body_bytes``: larger request bodies are rejected with FIELD_INVALID.
    """

    accounts: tuple[AccountConfig, ...] = (AccountConfig(),)
    rate_limit: float = attrs.field(default=2.0, validator=_rate)
    jitter: float = attrs.field(default=0.0, validator=_non_negative)
    delivery_delay: float = attrs.field(default=2.0, validator=_non_negative)
    pending_expiry: float = attrs.field(default=72 * 3600.0, validator=_non_negative)
    delivery_rules: DeliveryRules = DeliveryRules()
    callback_retry_delays: tuple[float, ...] = (60.0, 300.0, 3600.0, 86400.0)
    callback_retry_scale: float = attrs.field(default=0.01, validator=_non_negative)
    callback_timeout: float = attrs.field(default=5.0, validator=_non_negative)
    allow_link_local: bool = False
    price_per_sms: float = 0.087
    number_price: float = 25.0
    max_body_bytes: int = 1_000_000
    chaos: ChaosConfig = ChaosConfig()
    seed: int | None = None
