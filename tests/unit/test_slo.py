"""SLO maths: availability, burn rates and the multiwindow alert conditions."""

from __future__ import annotations

import pytest

from relier.slo import ALERTS, RECENT_HOURS, WindowCounts, alerts, buckets, burn_rate, count_fields


def test_availability_and_burn_rate() -> None:
    assert WindowCounts(0, 0).availability is None
    assert WindowCounts(999, 1).availability == pytest.approx(0.999)
    assert burn_rate(WindowCounts(999, 1), 0.999) == pytest.approx(1.0)
    assert burn_rate(WindowCounts(90, 10), 0.999) == pytest.approx(100.0)
    assert burn_rate(WindowCounts(0, 0), 0.999) == 0.0
    with pytest.raises(ValueError, match="between 0 and 1"):
        burn_rate(WindowCounts(1, 0), 1.0)


def test_alerts_need_both_windows() -> None:
    quiet = dict.fromkeys(("5m", "30m", "1h", "6h", "3d"), 0.0)
    assert not any(alert.firing for alert in alerts(quiet))
    spike_only = {**quiet, "5m": 100.0}  # a blip in the short window alone pages nobody
    assert not any(alert.firing for alert in alerts(spike_only))
    fast = {**quiet, "5m": 20.0, "1h": 15.0}
    assert [a.name for a in alerts(fast) if a.firing] == ["fast-burn"]
    slow = {**quiet, "30m": 7.0, "6h": 6.5, "3d": 1.2}
    assert [a.name for a in alerts(slow) if a.firing] == ["slow-burn", "budget-burn"]
    assert [(a[1], a[2], a[3]) for a in ALERTS] == [("1h", "5m", 14.4), ("6h", "30m", 6.0),
                                                     ("3d", "6h", 1.0)]


def test_windows_cover_the_right_buckets() -> None:
    now = 1_700_000_000_000
    assert len(buckets(now, "5m")) == 5
    assert len(buckets(now, "6h")) == 360
    assert len(buckets(now, "3d")) == 72
    assert buckets(now, "5m")[-1] == now // 60_000
    assert count_fields("t", "5m", now)[:2] == [f"t|m|{now // 60_000 - 4}|ok",
                                                f"t|m|{now // 60_000 - 4}|bad"]


def test_three_days_read_rolled_up_hours_and_the_last_hours_minutes() -> None:
    now = 1_700_000_000_000 + 17 * 60_000  # some minutes into an hour
    hour, minute = now // 3_600_000, now // 60_000
    fields = count_fields("t", "3d", now)
    hourly = [f for f in fields if "|h|" in f]
    minutely = [f for f in fields if "|m|" in f]
    assert len(hourly) == 2 * (72 - RECENT_HOURS)
    assert hourly[:2] == [f"t|h|{hour - 71}|ok", f"t|h|{hour - 71}|bad"]
    assert hourly[-1] == f"t|h|{hour - RECENT_HOURS}|bad"
    # every minute of the five hours before the current one, and the current one's so far
    assert minutely[0] == f"t|m|{(hour - RECENT_HOURS + 1) * 60}|ok"
    assert minutely[-2:] == [f"t|m|{minute}|ok", f"t|m|{minute}|bad"]
    assert len(minutely) == 2 * (minute - (hour - RECENT_HOURS + 1) * 60 + 1)
    # the oldest minute read is younger than what pruning keeps (6 h 5 min)
    assert minute - (hour - RECENT_HOURS + 1) * 60 < 6 * 60 + 5
