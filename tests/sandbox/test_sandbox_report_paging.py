"""A page of a sandbox report costs O(page + log n), not O(state), and answers as a full scan would.

The cost is counted, never timed: the state's collections are wrapped so that every message,
recipient and response walked by iteration is counted (a full scan walks them all on every page; the
report index walks them once, when it is built), and the index's own ``work`` counter (keys compared
and rows read) bounds what one page examines. The answers are compared with a full-scan oracle on
random states, filters and pages (hypothesis)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from smsapi_async.sandbox import AccountConfig, Sandbox, SandboxConfig, VirtualClock
from smsapi_async.sandbox._lifecycle import receive_inbound, recipient_status, record_link_hit
from smsapi_async.sandbox._params import ApiFailure, Context, Params
from smsapi_async.sandbox._report_index import report_index
from smsapi_async.sandbox._state import Message, Recipient, Response, datetime_text
from smsapi_async.sandbox.handlers import HANDLERS
from smsapi_async.sandbox.handlers._shared import money

START = 1_704_067_200.0  # the VirtualClock's start


class CountingList(list[Any]):
    """A list that counts the items walked by iterating it."""

    walked = 0

    def __iter__(self) -> Iterator[Any]:
        for item in super().__iter__():
            CountingList.walked += 1
            yield item

    def __reversed__(self) -> Iterator[Any]:
        for item in super().__reversed__():
            CountingList.walked += 1
            yield item


class CountingDict(dict[int, Message]):
    """``state.messages``, counting the messages walked through ``values()`` / ``items()``."""

    def values(self) -> Any:
        for value in super().values():
            CountingList.walked += 1
            yield value

    def items(self) -> Any:
        for item in super().items():
            CountingList.walked += 1
            yield item


def call(sandbox: Sandbox, name: str, **params: object) -> dict[str, Any]:
    ctx = Context(sandbox, sandbox.account(), sandbox.clock.now())
    return HANDLERS[name](ctx, Params([(k, str(v)) for k, v in params.items() if v is not None]))


def send(sandbox: Sandbox, numbers: list[str], text: str = "Hi [mobile]", **extra: object) -> int:
    answer = call(sandbox, "send-sms", message=text, to=",".join(numbers), **extra)
    return int(answer["message_id"])


def numbers(n: int, offset: int = 0) -> list[str]:
    return [f"614{offset + i:08d}" for i in range(n)]


def big_sandbox(recipients: int) -> Sandbox:
    """``recipients`` distinct recipients in sends of at most 500, then every collection counted."""
    sandbox = Sandbox(
        SandboxConfig(rate_limit=0, accounts=(AccountConfig(balance=10**9),)), clock=VirtualClock()
    )
    everyone = numbers(recipients)
    ids = [send(sandbox, everyone[i : i + 500]) for i in range(0, recipients, 500)]
    sandbox.advance(3600)
    first = sandbox.state.messages[ids[0]]
    for recipient in first.recipients[:3]:
        receive_inbound(sandbox, msisdn=recipient.msisdn, text="yes", message_id=first.id)
        record_link_hit(sandbox, first, recipient)
    state = sandbox.state
    for message in state.messages.values():
        message.recipients = CountingList(message.recipients)
    state.messages = CountingDict(state.messages)
    state.responses = CountingList(state.responses)
    return sandbox


WINDOW = {"start": datetime_text(START - 60), "end": datetime_text(START + 7200)}


def pages_of(sandbox: Sandbox, name: str, pages: list[int], **params: object) -> list[tuple[int, int]]:
    """For each page: (items walked by iterating the state, index work)."""
    index = report_index(sandbox.state)
    costs = []
    for page in pages:
        CountingList.walked, index.work = 0, 0
        call(sandbox, name, page=page, max=100, **params)
        costs.append((CountingList.walked, index.work))
    return costs


def bound(n: int, page: int = 100) -> int:
    """What one page may examine: its rows (twice: read and filtered) plus a few binary searches."""
    return 2 * page + 40 * math.ceil(math.log2(n + 2)) + 20


@pytest.mark.parametrize("recipients", [10, 10_000])
def test_walking_the_sent_report_examines_each_page_not_the_state(recipients: int) -> None:
    sandbox = big_sandbox(recipients)
    first = sandbox.state.messages[min(sandbox.state.messages)]
    one = first.recipients[1].msisdn
    pages = [1, 2, max(1, recipients // 200), recipients // 100 + 1, recipients // 100 + 5, 0]
    calls: list[tuple[str, dict[str, object]]] = [
        ("get-user-sms-sent", WINDOW),
        ("get-user-sms-sent", {**WINDOW, "msisdn": one}),
        ("get-sms-sent", {"message_id": first.id}),
        ("get-sms-sent", {"message_id": first.id, "delivery": "delivered"}),
        ("get-sms-sent", {"message_id": first.id, "optouts": "omit"}),
        ("get-message-report", WINDOW),
        ("get-sms-responses", {"message_id": first.id}),
        ("get-user-sms-responses", WINDOW),
        ("get-link-hits", {"message_id": first.id}),
        ("get-contact-sms-stats", {"mobile": one}),
    ]
    for name, params in calls:
        pages_of(sandbox, name, [1], **params)  # the index catches up once (or a view is built)
        for walked, work in pages_of(sandbox, name, pages, **params):
            assert walked == 0, name
            assert work <= bound(recipients), (name, work)
    for name, params in [
        ("get-sms-delivery-status", {"message_id": first.id, "msisdn": one}),
        ("get-message-log", {"message_id": first.id, "mobile": one}),
        ("get-sms-sent-count", WINDOW),
        ("get-sms-stats", {"message_id": first.id}),
        ("get-sms", {"message_id": first.id}),
    ]:
        for walked, work in pages_of(sandbox, name, [1, 1], **params)[1:]:
            assert walked == 0, name
            assert work <= bound(recipients), (name, work)


def test_the_index_is_built_once_then_kept_up_to_date_by_new_sends() -> None:
    """After the first page, new sends, due scheduled sends and replies are taken in, each for the
    cost of the new rows only."""
    sandbox = big_sandbox(2_000)
    index = report_index(sandbox.state)
    assert pages_of(sandbox, "get-user-sms-sent", [1], **WINDOW)[0][0] >= 2_000  # built once
    scheduled = send(sandbox, numbers(3, 50_000), send_at=datetime_text(START + 5400))
    send(sandbox, numbers(2, 60_000))
    CountingList.walked, index.work = 0, 0
    answer = call(sandbox, "get-user-sms-sent", page=1, max=100, **WINDOW)
    assert answer["total"] == 2_002  # the scheduled one is not sent yet
    assert CountingList.walked == 0
    assert index.work <= bound(2_000)
    sandbox.advance(3600)
    answer = call(sandbox, "get-user-sms-sent", page=1, max=100, **WINDOW)
    assert answer["total"] == 2_005
    assert [row["message_id"] for row in answer["messages"][:3]] == [scheduled] * 3
    receive_inbound(sandbox, msisdn=numbers(1, 60_000)[0], text="STOP")
    answer = call(sandbox, "get-user-sms-responses", **WINDOW)
    assert answer["total"] == 4
    assert answer["responses"][0]["response"] == "STOP"


def test_a_clock_stepping_back_and_a_cancel_of_an_indexed_message_are_seen() -> None:
    now = [START]
    sandbox = Sandbox(SandboxConfig(rate_limit=0), clock=lambda: now[0])
    later = send(sandbox, numbers(2), send_at=datetime_text(START + 600))
    now[0] = START + 700
    assert call(sandbox, "get-user-sms-sent", **WINDOW)["total"] == 2
    now[0] = START  # the clock steps back: the message can be cancelled again
    assert call(sandbox, "cancel-sms", id=later) == {"success": "OK"}
    now[0] = START + 700
    assert call(sandbox, "get-user-sms-sent", **WINDOW)["total"] == 0
    assert call(sandbox, "get-message-report", **WINDOW)["messages_total"] == 0


# --- the full-scan oracle -------------------------------------------------------------------------


def oracle_page(rows: list[Any], page: int | None, size: int | None) -> tuple[dict[str, int], list[Any]]:
    number = page or 1
    per = min(size or 10, 100)
    return {"count": max(1, math.ceil(len(rows) / per)), "number": number}, rows[
        (number - 1) * per : number * per
    ]


def sent(sandbox: Sandbox, now: float) -> list[Message]:
    me = sandbox.account().id
    return [
        m
        for m in sandbox.state.messages.values()
        if m.account_id == me and not m.cancelled and m.send_at <= now
    ]


def old_counters(sandbox: Sandbox, m: Message, now: float) -> dict[str, int]:
    result = {"delivered": 0, "pending": 0, "soft-bounce": 0, "hard-bounce": 0}
    if not m.cancelled:
        for r in m.recipients:
            result[recipient_status(r, now)] += 1
    result["responses"] = sum(1 for r in sandbox.state.responses if r.message_id == m.id)
    result["optouts"] = sum(1 for r in m.recipients if r.optout)
    result["link_hits"] = sum(r.link_hits for r in m.recipients)
    return result


def expect_user_sent(sandbox: Sandbox, now: float, q: dict[str, Any]) -> Any:
    rows = [
        (m, r)
        for m in sent(sandbox, now)
        if q["start"] <= m.send_at <= q["end"]
        for r in m.recipients
        if q["msisdn"] is None or r.msisdn == q["msisdn"]
    ]
    rows.sort(key=lambda row: (-row[0].send_at, -row[1].row_id))
    page, items = oracle_page(rows, q["page"], q["max"])
    view = [(m.id, r.row_id, r.msisdn, recipient_status(r, now)) for m, r in items]
    return page, len(rows), view


def got_user_sent(answer: dict[str, Any]) -> Any:
    view = [(x["message_id"], x["id"], str(x["msisdn"]), x["status"]) for x in answer.get("messages", [])]
    return answer["page"], answer["total"], view


def expect_report(sandbox: Sandbox, now: float, q: dict[str, Any]) -> Any:
    rows = [
        m
        for m in sent(sandbox, now)
        if q["start"] <= m.send_at <= q["end"]
        and q["type"] in ("all", m.type)
        and (q["number"] is None or m.sender == q["number"])
    ]
    rows.sort(key=lambda m: -m.send_at)
    page, items = oracle_page(rows, q["page"], q["max"])
    view = [
        (m.id, m.sms, *(old_counters(sandbox, m, now)[k] for k in ("delivered", "pending", "responses")))
        for m in items
    ]
    return page, len(rows), sum(m.sms for m in rows), view


def got_report(answer: dict[str, Any]) -> Any:
    view = [
        (x["id"], x["sms"], x["delivered"], x["pending"], x["responses"]) for x in answer.get("messages", [])
    ]
    return answer["page"], answer["messages_total"], answer["sms_total"], view


def expect_responses(sandbox: Sandbox, q: dict[str, Any], keep: Callable[[Response], bool]) -> Any:
    me = sandbox.account().id
    rows = [r for r in sandbox.state.responses if r.account_id == me and keep(r)]
    rows.sort(key=lambda r: (-r.received_at, -r.id))
    page, items = oracle_page(rows, q["page"], q["max"])
    originals = []
    for r in items:
        m = sandbox.state.messages.get(r.message_id)
        texts = (x.text for x in m.recipients if x.msisdn == r.msisdn) if m else iter(())
        originals.append((r.id, next(texts, m.text) if m else ""))
    return page, len(rows), originals


def got_responses(answer: dict[str, Any]) -> Any:
    return (
        answer["page"],
        answer["total"],
        [(x["id"], x["original_message"]) for x in answer.get("responses", [])],
    )


def expect_sms_sent(sandbox: Sandbox, m: Message, now: float, q: dict[str, Any]) -> Any:
    rows = []
    for r in m.recipients:
        status = "pending" if m.cancelled else recipient_status(r, now)
        if (q["optouts"] == "only" and not r.optout) or (q["optouts"] == "omit" and r.optout):
            continue
        if q["delivery"] not in ("all", "failed" if status.endswith("bounce") else status):
            continue
        rows.append((r.msisdn, status, r.optout))
    page, items = oracle_page(rows, q["page"], q["max"])
    c = old_counters(sandbox, m, now)
    return page, len(rows), items, (m.sms, c["delivered"], c["pending"], c["responses"], c["optouts"])


def got_sms_sent(answer: dict[str, Any]) -> Any:
    items = [(str(x["msisdn"]), x["delivery_status"], x["optout"]) for x in answer.get("recipients", [])]
    s = answer["message"]
    d = s["delivery_stats"]
    return (
        answer["page"],
        answer["total"],
        items,
        (s["sms"], d["delivered"], d["pending"], d["responses"], d["optouts"]),
    )


POOL = [f"6140000{i:04d}" for i in range(0, 40)] + ["61400000009", "61400000008", "61400001000"]
TIMES = st.floats(min_value=-3 * 3600, max_value=3 * 3600, allow_nan=False).map(lambda s: float(round(s)))

actions = st.lists(
    st.one_of(
        st.tuples(
            st.just("send"),
            st.lists(st.sampled_from(POOL), min_size=1, max_size=8),
            st.sampled_from([0, 0, 60, 900]),
        ),
        st.tuples(st.just("advance"), st.sampled_from([0, 1, 30, 61, 300, 3600]), st.just(0)),
        st.tuples(st.just("reply"), st.sampled_from(POOL), st.sampled_from(["yes", "STOP", "no thanks"])),
        st.tuples(st.just("hit"), st.integers(0, 50), st.integers(0, 10)),
        st.tuples(st.just("cancel"), st.integers(0, 50), st.just(0)),
    ),
    min_size=1,
    max_size=25,
)
EDGE = st.sampled_from([-1.0, 0.0, 0.0, 1.0])
pages = st.one_of(st.none(), st.integers(0, 6), st.just(10**6))
sizes = st.one_of(st.none(), st.integers(1, 5), st.just(100), st.just(10**6))


def play(plan: list[tuple[Any, Any, Any]]) -> Sandbox:
    sandbox = Sandbox(SandboxConfig(rate_limit=0, delivery_delay=60.0), clock=VirtualClock())
    for kind, a, b in plan:
        messages = list(sandbox.state.messages.values())
        if kind == "send":
            when = datetime_text(sandbox.clock.now() + b) if b else None
            if set(a) <= sandbox.account().optouts.keys():  # every number replied STOP: refused
                with pytest.raises(ApiFailure) as refused:
                    send(sandbox, a, text="Hello [mobile]", send_at=when)
                assert refused.value.code == "RECIPIENTS_ERROR"
            else:
                send(sandbox, a, text="Hello [mobile]", send_at=when)
        elif kind == "advance":
            sandbox.advance(a)
        elif kind == "reply" and messages:
            now = sandbox.clock.now()
            last = [
                m for m in sorted(messages, key=lambda m: -m.send_at) if not m.cancelled and m.send_at <= now
            ]
            expected = next((m.id for m in last if any(r.msisdn == a for r in m.recipients)), 0)
            assert receive_inbound(sandbox, msisdn=a, text=b).message_id == expected
        elif kind == "hit" and messages:
            m = messages[a % len(messages)]
            record_link_hit(sandbox, m, m.recipients[b % len(m.recipients)])
        elif kind == "cancel" and messages:
            m = messages[a % len(messages)]
            if not m.cancelled and m.send_at > sandbox.clock.now():
                call(sandbox, "cancel-sms", id=m.id)
        if kind in ("send", "advance"):  # the index keeps up between steps, as a live sandbox's does
            call(sandbox, "get-user-sms-sent", start="2000-01-01", end="2100-01-01")
    return sandbox


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plan=actions,
    a=TIMES,
    b=TIMES,
    page=pages,
    size=sizes,
    who=st.sampled_from([None, *POOL[:3], "61400000009", "junk"]),
    edges=st.one_of(st.none(), st.tuples(st.integers(0, 99), st.integers(0, 99), EDGE, EDGE)),
)
@example(plan=[("send", ["61400000001"], 0)], a=0.0, b=0.0, page=0, size=None, who=None, edges=None)
@example(  # a number that replied STOP is sent to again: the sandbox refuses that send
    plan=[("send", ["61400000000"], 0), ("reply", "61400000000", "STOP"), ("send", ["61400000000"], 0)],
    a=0.0,
    b=0.0,
    page=None,
    size=None,
    who=None,
    edges=None,
)
@example(
    plan=[("send", ["61400000001", "61400000002"], 0)],
    a=0.0,
    b=0.0,
    page=10**6,
    size=1,
    who="61400000001",
    edges=(0, 0, 0, 0),
)
def test_indexed_answers_equal_a_full_scan(
    plan: list[tuple[Any, Any, Any]],
    a: float,
    b: float,
    page: int | None,
    size: int | None,
    who: str | None,
    edges: tuple[int, int, int, int] | None,
) -> None:
    sandbox = play(plan)
    now = sandbox.clock.now()
    # a window at whole seconds around now, or with its edges on (or a second off) the times of
    # sends, replies and ledger entries; edges are included (times in answers are whole seconds too)
    start, end = sorted((now + a, now + b))
    if edges is not None:
        state = sandbox.state
        times = sorted(
            {m.send_at for m in state.messages.values()}
            | {r.received_at for r in state.responses}
            | {t.created for t in sandbox.account().transactions}
            | {now}
        )
        i, j, di, dj = edges
        start, end = sorted((times[i % len(times)] + di, times[j % len(times)] + dj))
    base = {"page": page, "max": size}
    window = {"start": datetime_text(start), "end": datetime_text(end)}
    q = {**base, "start": start, "end": end}
    msisdn = None if who in (None, "junk") else who

    answer = call(sandbox, "get-user-sms-sent", **base, **window, msisdn=who)
    assert got_user_sent(answer) == expect_user_sent(sandbox, now, {**q, "msisdn": msisdn})

    numbers_used = {m.sender for m in sandbox.state.messages.values()}
    for kind in ("all", "api", "campaign"):
        for number in (None, *sorted(numbers_used)):
            if end - start <= 30 * 86400:
                answer = call(sandbox, "get-message-report", **base, **window, type=kind, number=number)
                assert got_report(answer) == expect_report(
                    sandbox, now, {**q, "type": kind, "number": number}
                )
    if end - start <= 7 * 86400:
        count = call(sandbox, "get-sms-sent-count", **window)["count"]
        assert count == sum(m.sms for m in sent(sandbox, now) if start <= m.send_at <= end)

    keep_window: Callable[[Response], bool] = lambda r: start <= r.received_at <= end  # noqa: E731
    for keywords, keep in (
        ("both", lambda r: True),
        ("only", lambda r: r.keyword_id),
        ("omit", lambda r: not r.keyword_id),
    ):
        answer = call(
            sandbox, "get-user-sms-responses", **base, **window, keywords=keywords, include_original=1
        )
        expected = expect_responses(sandbox, q, lambda r, keep=keep: keep_window(r) and bool(keep(r)))
        assert got_responses(answer) == expected

    for m in list(sandbox.state.messages.values())[:4]:
        for optouts in ("include", "only", "omit"):
            for delivery in ("all", "delivered", "failed", "pending"):
                answer = call(
                    sandbox, "get-sms-sent", **base, message_id=m.id, optouts=optouts, delivery=delivery
                )
                expected = expect_sms_sent(sandbox, m, now, {**q, "optouts": optouts, "delivery": delivery})
                assert got_sms_sent(answer) == expected
        for sender in (None, msisdn):

            def keep_m(r: Response, m: Message = m, s: str | None = sender) -> bool:
                return r.message_id == m.id and s in (None, r.msisdn)

            answer = call(
                sandbox, "get-sms-responses", **base, message_id=m.id, msisdn=sender, include_original=1
            )
            assert got_responses(answer) == expect_responses(sandbox, q, keep_m)
            answer = call(sandbox, "get-sms-responses", **base, **window, message_id=m.id, msisdn=sender)
            expected = expect_responses(sandbox, q, lambda r, k=keep_m: k(r) and keep_window(r))
            assert answer["total"] == expected[1]
            assert [x["id"] for x in answer.get("responses", [])] == [i for i, _ in expected[2]]
        hits = [(r.msisdn, r.link_hits) for r in m.recipients if r.link_hits]
        answer = call(sandbox, "get-link-hits", message_id=m.id, max=100)
        assert [(str(x["mobile"]), x["link_hits"]) for x in answer.get("hits", [])] == hits
        for r in m.recipients[:3]:
            status = call(sandbox, "get-sms-delivery-status", message_id=m.id, msisdn=r.msisdn)["stats"]
            assert (status["message"], status["mobile"]) == (r.text, int(r.msisdn))

    me = sandbox.account()
    answer = call(sandbox, "get-transactions", **base, **window, client_id=me.id)
    rows_t = [t.id for t in reversed(me.transactions) if start <= t.created <= end]
    page_block, ids = oracle_page(rows_t, page, size)
    assert (answer["page"], answer["transactions_total"]) == (page_block, len(rows_t))
    assert [t["id"] for t in answer.get("transactions", [])] == ids
    view = call(sandbox, "get-client")
    kept = [m for m in sandbox.state.messages.values() if m.account_id == me.id and not m.cancelled]
    assert view["total_sms"] == sum(m.sms for m in kept)
    assert view["total_spend"] == money(sum(m.cost for m in kept))

    if msisdn is not None:
        answer = call(sandbox, "get-contact-sms-stats", **base, **window, mobile=msisdn, order="desc")
        rows = [
            {
                "message_id": m.id,
                "datetime_send": datetime_text(m.send_at),
                "delivery_status": recipient_status(r, now),
            }
            for m in sent(sandbox, now)
            if start <= m.send_at <= end
            for r in m.recipients
            if r.msisdn == msisdn
        ]
        rows.sort(key=lambda row: (row["datetime_send"], row["message_id"]), reverse=True)
        page_block, items = oracle_page(rows, page, size)
        assert (answer["page"], answer["total"], answer.get("records", [])) == (page_block, len(rows), items)


def test_a_page_of_a_long_ledger_examines_the_page_and_a_few_keys() -> None:
    works = []
    for size in (10, 10_000):
        sandbox = Sandbox(SandboxConfig(rate_limit=0), clock=VirtualClock())
        me = sandbox.account()
        for k in range(size):
            sandbox.state.record_transaction(me, START + k, 0.0, description="Top up - x", type_id=3)
        me.transactions = CountingList(me.transactions)
        index = report_index(sandbox.state)
        end = datetime_text(START + size // 2)
        call(sandbox, "get-transactions", client_id=me.id, start=datetime_text(START), end=end)
        index.work = CountingList.walked = 0
        answer = call(
            sandbox, "get-transactions", client_id=me.id, start=datetime_text(START), end=end, page=2
        )
        assert answer["transactions_total"] == size // 2 + 1
        assert CountingList.walked == 0
        works.append(index.work)
    assert works[1] <= bound(10_000, page=10)
    assert works[1] - works[0] <= 2 * 40  # the binary searches grow with log n, nothing else does


def test_a_page_of_clients_and_an_inbound_reply_do_not_walk_every_message() -> None:
    config = SandboxConfig(rate_limit=0, accounts=(AccountConfig(balance=10**9, reseller=True),))
    sandbox = Sandbox(config, clock=VirtualClock())
    me = sandbox.account()
    for k in range(150):
        sandbox.state.add_account(AccountConfig(api_key=f"k{k}", api_secret="s"), START, parent_id=me.id)
    for k in range(40):
        send(sandbox, numbers(5, 10 * k))
    sandbox.advance(60)
    state = sandbox.state
    for message in state.messages.values():
        message.recipients = CountingList(message.recipients)
    state.messages = CountingDict(state.messages)
    for name in ("get-clients", "get-client"):
        call(sandbox, name, page=2, max=100)
        CountingList.walked = 0
        answer = call(sandbox, name, page=2, max=100)
        assert CountingList.walked == 0, name
    assert answer["total_sms"] == 200
    assert (
        receive_inbound(sandbox, msisdn=numbers(1, 10)[0], text="yes").message_id == min(state.messages) + 1
    )
    CountingList.walked = 0
    assert (
        receive_inbound(sandbox, msisdn=numbers(1, 11)[0], text="yes").message_id == min(state.messages) + 1
    )
    assert CountingList.walked == 0


def test_a_ledger_out_of_time_order_is_filtered_whole_and_still_right() -> None:
    sandbox = Sandbox(SandboxConfig(rate_limit=0), clock=VirtualClock())
    me = sandbox.account()
    for when in (START + 5, START + 1, START + 9, START + 3):
        sandbox.state.record_transaction(me, when, 1.0, description="Top up - x", type_id=3)
    answer = call(
        sandbox,
        "get-transactions",
        client_id=me.id,
        start=datetime_text(START + 2),
        end=datetime_text(START + 6),
    )
    assert [t["created"] for t in answer["transactions"]] == [
        datetime_text(START + 3),
        datetime_text(START + 5),
    ]


def test_recipient_look_ups_are_the_first_match_like_a_walk() -> None:
    sandbox = Sandbox(SandboxConfig(rate_limit=0), clock=VirtualClock())
    message_id = send(sandbox, ["61400000001", "61400000002"])
    message = sandbox.state.messages[message_id]
    twin = Recipient(row_id=1, msisdn="61400000001", text="second", parts=1, fate="delivered", final_at=0.0)
    message.recipients.append(twin)  # not something the API makes; the walk found the first
    status = call(sandbox, "get-sms-delivery-status", message_id=message_id, msisdn="61400000001")["stats"]
    assert status["message"] == message.recipients[0].text
