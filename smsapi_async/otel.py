"""OpenTelemetry for :class:`~smsapi_async.AsyncSmsClient`: a span per call, metrics for the limiter.

Needs the ``otel`` extra (``opentelemetry-api``; add the SDK and an exporter of your choice)::

    from smsapi_async.otel import instrument

    instrument(client)  # the global providers, or tracer_provider= / meter_provider=

Spans: one ``smsapi <call>`` span (kind CLIENT) per call, child of whatever span is current, with
the attempts, the last HTTP status, an event per request sent, 429, limiter pause, retry and
unknown outcome, and an error status naming the exception's class if the call failed.

Metrics (attributes: ``smsapi.call``, plus ``smsapi.reason`` on retries and ``smsapi.outcome`` on
durations):

================================  ===========  ==============================================
``smsapi.call.duration``          histogram s  a call, from start to result, retries included
``smsapi.limiter.wait``           histogram s  each attempt's wait for the rate limiter
``smsapi.limiter.queue_depth``    gauge        callers waiting for the limiter (this process)
``smsapi.limiter.pauses``         counter      times a 429 paused the limiter
``smsapi.rate_limited``           counter      429 / ``OVER_LIMIT`` answers
``smsapi.retries``                counter      attempts resent
``smsapi.outcome_unknown``        counter      state-changing calls that may or may not have run
================================  ===========  ==============================================

Nothing private is recorded: call names, counts, codes and timings only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from ._events import (
    CallFinished,
    CallStarted,
    ClientEvent,
    LimiterPaused,
    OutcomeUnknown,
    RateLimited,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
)
from ._version import __version__

if TYPE_CHECKING:
    from ._client import AsyncSmsClient

__all__ = ["ClientTelemetry", "instrument"]

SCOPE = "smsapi_async"


class ClientTelemetry:
    """The event hook that turns a client's events into spans and metrics (see :func:`instrument`)."""

    def __init__(
        self,
        client: AsyncSmsClient,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self._client = client
        self._tracer = trace.get_tracer(SCOPE, __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider=meter_provider)
        self._spans: dict[int, Span] = {}
        self._duration = meter.create_histogram(
            "smsapi.call.duration", unit="s", description="A call from start to result, retries included"
        )
        self._wait = meter.create_histogram(
            "smsapi.limiter.wait", unit="s", description="Each attempt's wait for the rate limiter"
        )
        self._pauses = meter.create_counter(
            "smsapi.limiter.pauses", unit="{pause}", description="Times a 429 paused the limiter"
        )
        self._rate_limited = meter.create_counter(
            "smsapi.rate_limited", unit="{response}", description="429 / OVER_LIMIT answers"
        )
        self._retries = meter.create_counter("smsapi.retries", unit="{retry}", description="Attempts resent")
        self._unknown = meter.create_counter(
            "smsapi.outcome_unknown",
            unit="{call}",
            description="State-changing calls that may or may not have taken effect",
        )
        meter.create_observable_gauge(
            "smsapi.limiter.queue_depth",
            callbacks=[self._queue_depth],
            unit="{call}",
            description="Callers waiting for the rate limiter in this process",
        )

    def _queue_depth(self, options: CallbackOptions) -> Iterable[Observation]:
        waiting = getattr(self._client.limiter, "waiting", None)
        if isinstance(waiting, int):
            yield Observation(waiting)

    def __call__(self, event: ClientEvent) -> None:
        call = {"smsapi.call": event.call}
        if isinstance(event, CallStarted):
            self._spans[event.call_id] = self._tracer.start_span(
                f"smsapi {event.call}", kind=SpanKind.CLIENT, attributes=call
            )
            return
        span = self._spans.get(event.call_id)
        attributes: dict[str, Any]
        if isinstance(event, RequestSent):
            self._wait.record(event.queued, call)
            attributes = {"smsapi.attempt": event.attempt, "smsapi.queued_s": event.queued}
        elif isinstance(event, ResponseReceived):
            attributes = {"smsapi.attempt": event.attempt, "http.response.status_code": event.status_code}
            if event.code is not None:
                attributes["smsapi.error_code"] = event.code
            if span is not None:
                span.set_attribute("http.response.status_code", event.status_code)
        elif isinstance(event, RateLimited):
            self._rate_limited.add(1, call)
            attributes = {"smsapi.attempt": event.attempt}
            if event.retry_after is not None:
                attributes["smsapi.retry_after_s"] = event.retry_after
        elif isinstance(event, LimiterPaused):
            self._pauses.add(1, call)
            attributes = {"smsapi.pause_s": event.seconds}
        elif isinstance(event, RetryScheduled):
            self._retries.add(1, {**call, "smsapi.reason": event.reason})
            attributes = {
                "smsapi.attempt": event.attempt,
                "smsapi.delay_s": event.delay,
                "smsapi.reason": event.reason,
            }
        elif isinstance(event, OutcomeUnknown):
            self._unknown.add(1, call)
            attributes = {"smsapi.attempt": event.attempt}
        elif isinstance(event, CallFinished):
            self._finish(event, span)
            return
        else:
            return
        if span is not None:
            span.add_event(_EVENT_NAMES[type(event)], attributes)

    def _finish(self, event: CallFinished, span: Span | None) -> None:
        outcome = "ok" if event.error is None else "error"
        self._duration.record(event.duration, {"smsapi.call": event.call, "smsapi.outcome": outcome})
        self._spans.pop(event.call_id, None)
        if span is None:
            return
        span.set_attribute("smsapi.attempts", event.attempts)
        if event.error is not None:
            span.set_attribute("error.type", event.error)
            span.set_status(Status(StatusCode.ERROR, event.error))
        span.end()


_EVENT_NAMES: dict[type[ClientEvent], str] = {
    RequestSent: "request_sent",
    ResponseReceived: "response",
    RateLimited: "rate_limited",
    LimiterPaused: "limiter_paused",
    RetryScheduled: "retry_scheduled",
    OutcomeUnknown: "outcome_unknown",
}


def instrument(
    client: AsyncSmsClient,
    *,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
) -> ClientTelemetry:
    """Record spans and metrics for every call of ``client`` (and of its copies made afterwards
    with ``with_options`` / ``with_credentials``). Returns the hook, already added."""
    telemetry = ClientTelemetry(client, tracer_provider=tracer_provider, meter_provider=meter_provider)
    client.add_event_hook(telemetry)
    return telemetry
