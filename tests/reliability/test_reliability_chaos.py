"""The reliability suite: a 10 000-recipient bulk send and a concurrent pagination walk against the
sandbox in chaos mode (429 storms, 502 HTML pages, connections dropped before and after the call
was processed, answers slower than the timeout), in process on virtual time; see ``chaos_run.py``
for the invariants checked."""

from __future__ import annotations

import pytest

from reliability.chaos_run import TEXTS, check, deliveries, faults, run_chaos

pytestmark = pytest.mark.anyio


async def test_bulk_send_and_pagination_walk_under_chaos_keep_every_invariant(anyio_backend: str) -> None:
    outcome = await run_chaos(n=10_000)
    states = check(outcome)
    assert states["sent"] > outcome.n / 2
    assert states["unknown"] > 0  # calls dropped after processing, 502s, timeouts: never resent
    assert states["rejected"] > 0  # the bad numbers and repeats of the input
    drawn = faults(outcome)
    assert {"over_limit", "server_error", "drop_before", "drop_after", "slow"} <= set(drawn), drawn


async def test_reconciliation_under_chaos_resends_only_what_provably_did_not_go_out(
    anyio_backend: str,
) -> None:
    outcome = await run_chaos(n=1_500, members=500, reconcile=True, seed=29)
    states = check(outcome)
    assert states["unknown"] == 0  # every unknown call was looked up and settled
    delivered = set(deliveries(outcome.sandbox))
    assert delivered == {
        (r.number, TEXTS[r.index % len(TEXTS)]) for r in outcome.results if r.status == "sent"
    }


async def test_served_over_a_real_socket_keeps_every_invariant(anyio_backend: str) -> None:
    """The same over loopback: real dropped connections, real timeouts, reconciliation on."""
    outcome = await run_chaos(n=2_000, members=400, reconcile=True, served=True, seed=31)
    states = check(outcome)
    assert states["sent"] > outcome.n / 2
    drawn = faults(outcome)
    assert {"over_limit", "server_error", "drop_before", "drop_after"} <= set(drawn), drawn
