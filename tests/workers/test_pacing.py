"""The Redis scripts that pace sends: the shared sending rate and the limits per number.

They run on the test's real Redis (timed by its clock); windows are kept short
so the tests stay cheap. Nothing asserts speed: only who is let through and
how long the scripts say to wait.
"""

from __future__ import annotations

import threading
import time

import pytest

from hotline.pacing import Priority, RecipientGuard, RecipientLimits, SendRate
from hotline.pacing.recipients import HOUR


@pytest.fixture
def rate(redis_conn) -> SendRate:
    return SendRate(redis_conn, "sms:test", 5, bulk_share=0.6, window=0.5)


def test_an_urgent_sender_may_use_the_whole_limit_then_is_told_how_long_to_wait(rate):
    assert [rate.try_acquire() for _ in range(5)] == [0.0] * 5
    wait = rate.try_acquire()
    assert 0 < wait <= 0.5


def test_bulk_sends_keep_their_share_and_leave_the_rest_to_alerts(rate):
    assert [rate.try_acquire(Priority.URGENT) for _ in range(3)] == [0.0] * 3
    assert rate.try_acquire(Priority.BULK) > 0, "3 sends in the window already use the bulk share (60 % of 5)"
    assert [rate.try_acquire(Priority.URGENT) for _ in range(2)] == [0.0, 0.0], "the rest is free for alerts"
    assert rate.try_acquire(Priority.URGENT) > 0


def test_bulk_sends_take_nothing_while_an_urgent_send_waits(rate):
    for _ in range(5):
        rate.try_acquire(Priority.URGENT)
    assert rate.try_acquire(Priority.URGENT) > 0  # an alert is now waiting
    time.sleep(0.52)  # the window has emptied, but the alert has not come back yet
    assert rate.try_acquire(Priority.BULK) > 0, "a broadcast must not take the alert's slot"
    assert rate.try_acquire(Priority.URGENT) == 0.0


def test_a_bulk_share_below_one_send_still_lets_one_through(redis_conn):
    rate = SendRate(redis_conn, "calls:test", 1, bulk_share=0.5, window=0.5)
    assert rate.bulk_limit == 1
    assert rate.try_acquire(Priority.BULK) == 0.0


def _granted_times(redis_conn, rate: SendRate, done: threading.Event) -> list[int]:
    """Every slot's time as Redis granted it (microseconds), read from the rate's log until ``done``.

    A slot stays in the log for a whole window, so reading it far more often than that sees each one.
    The threads' own clocks are not used: a thread may run some milliseconds after its slot was granted.
    """
    seen: dict[bytes, int] = {}
    while True:
        finished = done.is_set()
        for token, score in redis_conn.zrange(rate._log_key, 0, -1, withscores=True):
            seen[token] = int(score)
        if finished:
            return sorted(seen.values())
        time.sleep(0.01)


def test_senders_on_many_threads_never_exceed_the_limit_in_any_window(redis_conn):
    rate = SendRate(redis_conn, "sms:threads", 4, window=0.3)
    done = threading.Event()
    granted: list[int] = []
    watcher = threading.Thread(target=lambda: granted.extend(_granted_times(redis_conn, rate, done)))
    watcher.start()

    def send() -> None:
        assert rate.acquire(Priority.URGENT) is not None

    threads = [threading.Thread(target=send) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    watcher.join()
    assert len(granted) == 12
    # Any 0.3 s holds at most 4: the 5th slot after any slot comes a whole window later.
    assert all(granted[i + 4] - granted[i] >= 300_000 for i in range(len(granted) - 4))


def test_bulk_sends_are_spaced_evenly_and_urgent_ones_are_not(rate):
    assert rate.try_acquire(Priority.BULK) == 0.0
    wait = rate.try_acquire(Priority.BULK)
    assert 0.08 < wait <= 0.5 * 1.06 / 5, "alone, 5 sends a window of 0.5 s go one every fifth of it (and a little)"
    assert [rate.try_acquire(Priority.URGENT) for _ in range(4)] == [0.0] * 4, "alerts go all at once"
    time.sleep(0.52)  # the window has emptied; the emergency is still under way
    assert rate.try_acquire(Priority.BULK) == 0.0
    wait = rate.try_acquire(Priority.BULK)
    assert 0.15 < wait <= 0.5 * 1.06 / 3, "during an emergency, the share (3 sends a window) goes one every third"


def test_a_stamped_slot_counts_from_when_its_send_leaves(redis_conn):
    rate = SendRate(redis_conn, "sms:stamp", 1, window=0.4)
    slot = rate.acquire()
    assert slot is not None
    time.sleep(0.3)
    rate.stamp(slot)  # the request leaves only now
    wait = rate.try_acquire()
    assert wait > 0.3, "the window runs from the stamp, not from when the slot was taken"


def test_acquire_gives_up_when_asked(rate):
    for _ in range(5):
        rate.try_acquire()
    assert rate.acquire(give_up=lambda: True) is None


def test_a_rate_needs_at_least_one_send_a_second(redis_conn):
    with pytest.raises(ValueError, match="at least one"):
        SendRate(redis_conn, "sms:none", 0)


CHINA_CALLS = RecipientLimits(spacing=60, per_hour=5, per_day=20)


def test_no_limits_means_no_wait_and_no_record(redis_conn):
    guard = RecipientGuard(redis_conn)
    assert guard.reserve("sms", "+8613900000001", RecipientLimits()) == (0.0, None)
    assert not redis_conn.keys("hotline:recipient:*")


def test_a_second_call_within_the_spacing_waits_for_the_rest_of_it(redis_conn):
    guard = RecipientGuard(redis_conn)
    wait, reservation = guard.reserve("call", "+8613900000001", CHINA_CALLS)
    assert wait == 0.0 and reservation is not None
    assert 59 < guard.wait("call", "+8613900000001", CHINA_CALLS) <= 60
    assert guard.wait("sms", "+8613900000001", CHINA_CALLS) == 0.0, "each channel has its own limits"
    assert guard.wait("call", "+8613900000002", CHINA_CALLS) == 0.0, "and each number"


def test_the_hourly_cap_waits_for_the_oldest_call_of_the_hour_to_age(redis_conn):
    guard = RecipientGuard(redis_conn)
    per_hour = RecipientLimits(per_hour=2)
    assert guard.reserve("call", "+8613900000003", per_hour)[0] == 0.0
    assert guard.reserve("call", "+8613900000003", per_hour)[0] == 0.0
    wait, reservation = guard.reserve("call", "+8613900000003", per_hour)
    assert reservation is None and HOUR - 5 < wait <= HOUR


def test_the_daily_cap_counts_the_whole_day(redis_conn):
    guard = RecipientGuard(redis_conn)
    per_day = RecipientLimits(per_day=1)
    assert guard.reserve("call", "+8613900000004", per_day)[0] == 0.0
    assert guard.wait("call", "+8613900000004", per_day) > 23 * HOUR


def test_a_released_reservation_no_longer_counts(redis_conn):
    guard = RecipientGuard(redis_conn)
    _, reservation = guard.reserve("call", "+8613900000005", CHINA_CALLS)
    guard.release(reservation)
    assert guard.wait("call", "+8613900000005", CHINA_CALLS) == 0.0


def test_where_the_free_part_holds_a_group_a_broadcast_keeps_to_its_share_even_alone(redis_conn):
    assert SendRate(redis_conn, "sms:fast", 50, bulk_share=0.8).keeps_share_alone, "10 of 50 free hold a group"
    assert not SendRate(redis_conn, "sms:slow", 10, bulk_share=0.8).keeps_share_alone, "2 of 10 would not"
    rate = SendRate(redis_conn, "sms:wide", 12, bulk_share=0.1, window=0.5)  # 1 a window; 11 free
    assert rate.try_acquire(Priority.BULK) == 0.0
    assert rate.try_acquire(Priority.BULK) > 0.4, "the share's spacing (the whole window), not the limit's"
    assert [rate.try_acquire(Priority.URGENT) for _ in range(11)] == [0.0] * 11, "an alert's texts go at once"
