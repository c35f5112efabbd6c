"""Event hooks on the client, and the OpenTelemetry integration built on them (in-memory exporters)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from support import Recorder, failure, success

from smsapi_async import AsyncSmsClient, OutcomeUnknownError, RateLimitError
from smsapi_async.events import (
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
from smsapi_async.otel import instrument

pytestmark = pytest.mark.anyio

MakeClient = Callable[..., AsyncSmsClient]


def over_limit(retry_after: str = "0") -> httpx.Response:
    response = failure("OVER_LIMIT", "Too many requests", 429)
    response.headers["Retry-After"] = retry_after
    return response


def kinds(events: list[ClientEvent]) -> list[str]:
    return [type(event).__name__ for event in events]


async def test_a_plain_call_tells_started_sent_answered_finished(make_client: MakeClient) -> None:
    events: list[ClientEvent] = []
    client = make_client(Recorder(success(balance=1)), event_hooks=[events.append])
    await client.call("get-balance")
    assert kinds(events) == ["CallStarted", "RequestSent", "ResponseReceived", "CallFinished"]
    started, sent, answered, finished = events
    assert isinstance(started, CallStarted)
    assert isinstance(sent, RequestSent)
    assert isinstance(answered, ResponseReceived)
    assert isinstance(finished, CallFinished)
    assert {e.call_id for e in events} == {started.call_id}
    assert {e.call for e in events} == {"get-balance"}
    assert (sent.attempt, answered.attempt, answered.status_code, answered.code) == (1, 1, 200, None)
    assert sent.queued >= 0
    assert answered.elapsed >= 0
    assert (finished.attempts, finished.error) == (1, None)
    assert finished.duration >= answered.elapsed


async def test_a_429_tells_rate_limited_pause_retry_then_the_second_attempt(make_client: MakeClient) -> None:
    events: list[ClientEvent] = []
    client = make_client(Recorder(over_limit("0"), success(balance=1)), rate_limit=1000)
    client.add_event_hook(events.append)
    await client.call("get-balance")
    assert kinds(events) == [
        "CallStarted",
        "RequestSent",
        "ResponseReceived",
        "RateLimited",
        "LimiterPaused",
        "RetryScheduled",
        "RequestSent",
        "ResponseReceived",
        "CallFinished",
    ]
    refused = events[2]
    assert isinstance(refused, ResponseReceived)
    assert (refused.status_code, refused.code) == (429, "OVER_LIMIT")
    limited, paused, retry = events[3], events[4], events[5]
    assert isinstance(limited, RateLimited)
    assert limited.retry_after == 0
    assert isinstance(paused, LimiterPaused)
    assert paused.seconds == 0
    assert isinstance(retry, RetryScheduled)
    assert (retry.attempt, retry.reason) == (1, "RateLimitError")
    second, finished = events[6], events[-1]
    assert isinstance(second, RequestSent)
    assert second.attempt == 2
    assert isinstance(finished, CallFinished)
    assert finished.attempts == 2


async def test_a_send_that_timed_out_tells_outcome_unknown_and_the_error(make_client: MakeClient) -> None:
    events: list[ClientEvent] = []
    client = make_client(Recorder(httpx.ReadTimeout("slow")), event_hooks=[events.append])
    with pytest.raises(OutcomeUnknownError):
        await client.sms.send(message="Your code is 123456", to=["61400000001"])
    unknown = [e for e in events if isinstance(e, OutcomeUnknown)]
    assert len(unknown) == 1
    assert "timed out" in unknown[0].reason
    finished = events[-1]
    assert isinstance(finished, CallFinished)
    assert finished.error == "OutcomeUnknownError"
    assert "ResponseReceived" not in kinds(events)


async def test_events_carry_no_private_data(make_client: MakeClient) -> None:
    events: list[ClientEvent] = []
    recorder = Recorder(over_limit("0"), httpx.ReadTimeout("slow"))
    client = AsyncSmsClient(
        "KEY-very-private-1234",
        "SECRET-very-private",
        transport=httpx.MockTransport(recorder),
        rate_limit=1000,
        max_retries=1,
        event_hooks=[events.append],
    )
    async with client:
        with pytest.raises(OutcomeUnknownError):
            await client.sms.send(message="Meet me at 7 PRIVATE", to=["61400999888"])
    text = repr(events)
    for private in ("KEY-very", "SECRET", "PRIVATE", "61400999888", "transmitsms.com"):
        assert private not in text
    assert len(recorder.requests) == 2


async def test_a_failing_hook_is_logged_and_the_call_goes_on(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: ClientEvent) -> None:
        raise RuntimeError("hook bug")

    seen: list[ClientEvent] = []
    client = make_client(Recorder(success(balance=1)), event_hooks=[broken, seen.append])
    with caplog.at_level(logging.ERROR, logger="smsapi_async"):
        assert (await client.call("get-balance"))["balance"] == 1
    assert len(seen) == 4  # the other hook heard everything
    assert "event hook" in caplog.text
    with pytest.raises(Exception, match="callable"):
        client.add_event_hook("not a function")  # type: ignore[arg-type]


async def test_copies_share_the_hooks_and_call_ids_never_repeat(make_client: MakeClient) -> None:
    events: list[ClientEvent] = []
    client = make_client(Recorder(success(balance=1)), event_hooks=[events.append])
    await client.call("get-balance")
    await client.with_options(max_retries=0).call("get-balance")
    await client.with_credentials("other-key-0001", "other-secret", limiter=None).call("get-balance")
    starts = [e for e in events if isinstance(e, CallStarted)]
    assert len(starts) == 3
    assert len({e.call_id for e in starts}) == 3


async def test_a_call_refused_before_sending_tells_only_started_and_finished(make_client: MakeClient) -> None:
    events: list[ClientEvent] = []
    client = make_client(Recorder(over_limit("30"), success()), rate_limit=1000, max_retry_wait=5)
    client.add_event_hook(events.append)
    with pytest.raises(RateLimitError):
        await client.call("get-balance")  # 429 asks for 30 s: more than this call may wait
    assert kinds(events)[-2:] == ["LimiterPaused", "CallFinished"]
    assert "RetryScheduled" not in kinds(events)


def metric_points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    assert data is not None
    found: dict[str, list[Any]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


async def test_opentelemetry_spans_per_call_and_metrics_for_wait_429s_retries(
    make_client: MakeClient,
) -> None:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    client = make_client(
        Recorder(over_limit("0"), success(balance=1), failure("AUTH_FAILED", "bad key", 401)),
        rate_limit=1000,
    )
    instrument(client, tracer_provider=tracer_provider, meter_provider=meter_provider)
    await client.call("get-balance")
    with pytest.raises(Exception, match="bad key"):
        await client.call("get-balance")

    spans = exporter.get_finished_spans()
    assert [span.name for span in spans] == ["smsapi get-balance", "smsapi get-balance"]
    ok, failed = spans
    assert ok.attributes is not None
    assert ok.attributes["smsapi.attempts"] == 2
    assert ok.attributes["http.response.status_code"] == 200
    assert [event.name for event in ok.events] == [
        "request_sent",
        "response",
        "rate_limited",
        "limiter_paused",
        "retry_scheduled",
        "request_sent",
        "response",
    ]
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.attributes is not None
    assert failed.attributes["error.type"] == "AuthenticationError"

    points = metric_points(reader)
    assert sum(p.value for p in points["smsapi.rate_limited"]) == 1
    [retry] = points["smsapi.retries"]
    assert retry.value == 1
    assert retry.attributes["smsapi.reason"] == "RateLimitError"
    assert sum(p.value for p in points["smsapi.limiter.pauses"]) == 1
    assert sum(p.count for p in points["smsapi.limiter.wait"]) == 3
    outcomes = {p.attributes["smsapi.outcome"]: p.count for p in points["smsapi.call.duration"]}
    assert outcomes == {"ok": 1, "error": 1}
    [depth] = points["smsapi.limiter.queue_depth"]
    assert depth.value == 0
