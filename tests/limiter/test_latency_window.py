"""The margin estimate's window of latencies, kept in order instead of sorted per answer, must give
exactly what sorting the last ``LATENCY_SAMPLES`` samples gives (the policy: RateLimiter docstring)."""

from __future__ import annotations

import random

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsapi_async import RateLimiter
from smsapi_async._clock import FakeClock
from smsapi_async._latency import LATENCY_SAMPLES, MIN_LATENCY_SAMPLES, LatencyWindow


def reference_spread(samples: list[tuple[float, float]], horizon: float) -> float:
    """The policy written out directly: sort the last LATENCY_SAMPLES latencies on every call."""
    recent = samples[-LATENCY_SAMPLES:]
    ordered = sorted(latency for _, latency in recent)
    n = len(ordered)
    tenth = (n - 1) // 10
    slowest_recent = max((latency for sent, latency in recent if sent >= horizon), default=ordered[0])
    stretch = max(1.25, (n + 1) / (n - 1))
    return max(stretch * (ordered[n - 1 - tenth] - ordered[tenth]), slowest_recent - ordered[0])


# mostly close latencies with rare outliers (only then does the slowest recent answer outweigh the
# spread of them all), repeated values on purpose; answers close together, so that a slow one can
# still be within reach when 32 more have pushed it out of the window
close = st.sampled_from([0.010, 0.0105, 0.011, 0.012, 0.02])
latency = st.one_of(close, close, close, st.floats(min_value=0.0, max_value=2.0, allow_nan=False))
gap = st.one_of(st.sampled_from([0.0, 0.001, 0.01]), st.floats(0.0, 0.7))
# (gap before the answer, its latency, how much further back this answer's horizon is: in use the
# horizon only moves on, but the window must not rely on it)
answers = st.lists(
    st.tuples(gap, latency, st.sampled_from([0.0, 0.0, 0.0, 0.4])), min_size=MIN_LATENCY_SAMPLES, max_size=120
)


@settings(max_examples=400)
@given(answers, st.floats(0.5, 1.5))
def test_the_kept_window_gives_the_spread_of_the_last_samples_sorted_afresh(
    steps: list[tuple[float, float, float]], reach: float
) -> None:
    window = LatencyWindow()
    samples: list[tuple[float, float]] = []
    now = 0.0
    for pause, lat, back in steps:
        now += pause
        window.add(now - lat, lat)  # answers come in order, their requests left in any order
        samples.append((now - lat, lat))
        assert len(window) == min(len(samples), LATENCY_SAMPLES)
        if len(samples) >= MIN_LATENCY_SAMPLES:
            horizon = now - reach - back
            assert window.spread(horizon) == reference_spread(samples, horizon)


def test_the_slowest_recent_answer_counts_until_it_leaves_the_window_or_the_reach() -> None:
    window = LatencyWindow()
    window.add(0.0, 0.100)  # a request counted late
    for i in range(1, LATENCY_SAMPLES - 1):
        window.add(i * 0.001, 0.010)
    assert window.spread(horizon=0.0) == pytest.approx(0.090)  # within reach: above the fastest
    window.add(0.04, 0.020)  # a slower one still below it changes nothing
    assert window.spread(horizon=0.0) == pytest.approx(0.090)
    window.add(0.05, 0.200)  # the window is full: the first late one leaves, a later one counts
    assert len(window) == LATENCY_SAMPLES
    assert window.spread(horizon=0.0) == pytest.approx(0.190)
    window.add(0.07, 0.011)
    assert window.spread(horizon=0.06) == pytest.approx(0.001)  # out of reach: the late ones are not
    assert window.spread(horizon=0.0) == pytest.approx(0.190)  # a horizon moved back sees them again
    for i in range(LATENCY_SAMPLES):  # 32 more answers push the late ones out of the window
        window.add(0.1 + i * 0.001, 0.010)
    assert window.spread(horizon=0.0) == 0.0


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@given(st.lists(st.floats(0.0005, 0.08), min_size=MIN_LATENCY_SAMPLES, max_size=80), st.integers(0, 3))
def test_the_limiter_margin_follows_the_reference_over_random_latencies(
    backend: str, latencies: list[float], seed: int
) -> None:
    anyio.run(_margin_follows_the_reference, latencies, seed, backend=backend)


async def _margin_follows_the_reference(latencies: list[float], seed: int) -> None:
    clock = FakeClock()
    limiter = RateLimiter(1000, clock=clock)
    rng = random.Random(seed)
    samples: list[tuple[float, float]] = []
    for lat in latencies:
        # every gap is longer than the longest interval (1.1 ms at the 0.1 s ceiling) and far fewer
        # than `rate` sends fit in a window: reserve() never waits on this clock nobody else moves
        await clock.advance(rng.choice([0.002, 0.01, 0.3, 2.0]))
        with anyio.fail_after(5):  # a wait would be a regression: fail, not hang
            reservation = await limiter.reserve()
        reservation.sent()
        sent = clock.now()
        await clock.advance(lat)
        reservation.answered()
        samples.append((sent, clock.now() - sent))
    expected = reference_spread(samples, clock.now() - 1.0 - limiter.max_safety_margin)
    assert limiter.margin == pytest.approx(
        min(limiter.max_safety_margin, max(limiter.safety_margin, expected))
    )
