"""The simulator behaves like shoppers, is deterministic, and injects exactly the mess it reports."""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from datetime import date, datetime, timezone

import pytest

from clickstream_assets.contract import CHECKOUT_PAGE, PRODUCT_PAGE_PREFIX, classify_line
from clickstream_assets.producer.runner import produce_historical, produce_live
from clickstream_assets.producer.simulator import Mess
from resources.sinks import LocalFirehoseSink
from tests.pipeline import arrival_of, raw_lines, raw_objects

START = date(2026, 11, 2)
NOW = datetime(2026, 11, 20, tzinfo=timezone.utc)


def produce(path, seed=7, mess=None, days=2, events_per_day=20_000):
    sink = LocalFirehoseSink(str(path / "raw"), seed=seed)
    return produce_historical(sink, START, days, events_per_day, seed=seed, mess=mess, now=NOW)


def digest(path) -> str:
    h = hashlib.sha256()
    for obj in raw_objects(path):
        h.update(str(obj.relative_to(path)).encode())
        h.update(obj.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("clean")
    summary = produce(path)
    records = [json.loads(line) for _, line in raw_lines(path)]
    return path, summary, records


@pytest.fixture(scope="module")
def messy_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("messy")
    summary = produce(path, mess=Mess(duplicate_rate=0.02, malformed_rate=0.01, late_rate=0.02, future_rate=0.005))
    return path, summary


def test_same_arguments_and_seed_give_byte_identical_output(tmp_path, clean_run):
    path, _, _ = clean_run
    produce(tmp_path / "again")
    assert digest(tmp_path / "again") == digest(path)
    produce(tmp_path / "other", seed=8)
    assert digest(tmp_path / "other") != digest(path)


@pytest.mark.parametrize("lines_per_array", [1, 997])
def test_the_bytes_do_not_depend_on_how_lines_are_cut_into_arrays(tmp_path, monkeypatch, clean_run, messy_run,
                                                                  lines_per_array):
    """The renderer hands lines back in arrays of a fixed size, sent as they come: other sizes, same objects."""
    from clickstream_assets.producer import ndjson

    monkeypatch.setattr(ndjson, "LINES_PER_ARRAY", lines_per_array)
    if lines_per_array == 1:  # one line an array is slow: a small run, against the same run cut the usual way
        small = dict(days=1, events_per_day=2_000)
        produce(tmp_path / "cut", **small)
        monkeypatch.undo()
        produce(tmp_path / "whole", **small)
        assert digest(tmp_path / "cut") == digest(tmp_path / "whole")
        return
    produce(tmp_path / "clean")
    assert digest(tmp_path / "clean") == digest(clean_run[0])
    produce(tmp_path / "messy", mess=Mess(duplicate_rate=0.02, malformed_rate=0.01, late_rate=0.02, future_rate=0.005))
    assert digest(tmp_path / "messy") == digest(messy_run[0])


def test_every_clean_record_validates_and_lands_in_its_arrival_hour(clean_run):
    path, summary, records = clean_run
    assert summary.produced == len(records) == 40_000
    assert summary.delivered == 40_000 and summary.failed == 0
    for obj, line in raw_lines(path):
        arrival = arrival_of(str(obj))
        assert classify_line(line, arrival).valid
        assert f"{arrival:%Y/%m/%d/%H}" in str(obj)


def test_each_injected_kind_gets_its_reason_and_the_summary_counts_it(messy_run):
    path, summary = messy_run
    reasons = Counter()
    ids = Counter()
    for obj, line in raw_lines(path):
        verdict = classify_line(line, arrival_of(str(obj)))
        reasons[verdict.reason] += 1
        if verdict.valid:
            ids[json.loads(line)["event_id"]] += 1
    assert reasons.pop(None) == summary.produced + summary.injected_duplicates
    assert reasons.pop("future_timestamp") == summary.injected_future
    assert dict(reasons) == {k: v for k, v in summary.injected_malformed.items() if v}
    assert sum(n - 1 for n in ids.values()) == summary.injected_duplicates
    assert summary.injected_duplicates > 0 and summary.injected_future > 0 and all(summary.injected_malformed.values())


def test_late_events_arrive_hours_after_they_happened(messy_run):
    path, summary = messy_run
    late = 0
    for obj, line in raw_lines(path):
        try:
            record = json.loads(line)
            moment = datetime.fromisoformat(record["timestamp"][:-1]).replace(tzinfo=timezone.utc)
        except (ValueError, KeyError, TypeError):
            continue
        if (arrival_of(str(obj)) - moment).total_seconds() > 3600:
            late += 1
    # Duplicates of late events are late too; nothing else arrives more than an hour after it happened.
    assert summary.injected_late <= late <= summary.injected_late * 1.1 + 5


def sessions_of(records):
    sessions = defaultdict(list)
    for r in records:
        sessions[r["session_id"]].append(r)
    for events in sessions.values():
        events.sort(key=lambda r: r["timestamp"])
    return sessions


def test_a_user_is_new_only_in_their_first_session(clean_run):
    _, _, records = clean_run
    by_user = defaultdict(list)
    for _sid, events in sessions_of(records).items():
        by_user[events[0]["user_id"]].append((events[0]["timestamp"], events[0]["user_type"]))
    new_users = 0
    for visits in by_user.values():
        visits.sort()
        types = [t for _, t in visits]
        assert "new" not in types[1:]
        new_users += types[0] == "new"
    assert new_users > 1000 and any(len(v) > 1 and v[0][1] == "new" for v in by_user.values())


def test_a_session_keeps_its_context_and_never_idles_half_an_hour(clean_run):
    _, _, records = clean_run
    for events in sessions_of(records).values():
        for name in ("user_id", "device_type", "browser", "location", "referrer_url", "user_type"):
            assert len({e[name] for e in events}) == 1, name
        times = [datetime.fromisoformat(e["timestamp"][:-1]) for e in events]
        assert all((b - a).total_seconds() < 30 * 60 for a, b in zip(times, times[1:]))


def test_the_funnel_runs_in_order_within_each_session(clean_run):
    _, _, records = clean_run
    purchases = 0
    for events in sessions_of(records).values():
        kinds = [e["event_type"] for e in events]
        product_views = sum(k == "view" and e["page"].startswith(PRODUCT_PAGE_PREFIX) for k, e in zip(kinds, events))
        adds, buys = kinds.count("add_to_cart"), kinds.count("purchase")
        assert buys <= adds <= product_views
        if buys:
            purchases += 1
            first = {k: next(i for i, e in enumerate(events) if pred(e)) for k, pred in {
                "view": lambda e: e["event_type"] == "view" and e["page"].startswith(PRODUCT_PAGE_PREFIX),
                "add": lambda e: e["event_type"] == "add_to_cart",
                "checkout": lambda e: e["page"] == CHECKOUT_PAGE,
                "purchase": lambda e: e["event_type"] == "purchase",
            }.items()}
            assert first["view"] < first["add"] < first["checkout"] < first["purchase"]
    assert purchases > 100


def test_popularity_is_skewed_and_traffic_follows_the_day(clean_run):
    _, _, records = clean_run
    views = Counter(r["product_id"] for r in records if r["event_type"] == "view" and r["product_id"])
    top_20 = sum(n for _, n in views.most_common(20))
    assert top_20 / sum(views.values()) > 0.25  # 1% of products, over a quarter of views
    by_hour = Counter(int(r["timestamp"][11:13]) for r in records)
    assert by_hour[20] > 3 * by_hour[3]


def test_live_mode_holds_its_rate_from_the_first_second_to_the_last(tmp_path):
    start = datetime(2026, 11, 19, 12, tzinfo=timezone.utc)  # a slice in the past: sent at once, not paced
    sink = LocalFirehoseSink(str(tmp_path / "raw"), seed=1)
    summary = produce_live(sink, rate=500, duration=60, seed=3, start=start)
    records = [json.loads(line) for _, line in raw_lines(tmp_path)]
    assert summary.produced == summary.delivered == len(records) == 30_000
    seconds = Counter(int((datetime.fromisoformat(r["timestamp"][:-1]).replace(tzinfo=timezone.utc) - start)
                          .total_seconds() // 10) for r in records)
    assert sorted(seconds) == list(range(6))  # nothing before or after the slice
    assert all(abs(n - 5_000) < 400 for n in seconds.values()), seconds  # every 10 s gets its share
    # A slice is a window on continuous traffic: visits under way when it opens send their remaining events.
    started_before = 0
    for events in sessions_of(records).values():
        assert len({(e["user_id"], e["device_type"], e["referrer_url"]) for e in events}) == 1
        started_before += events[0]["event_type"] != "view"
    assert 0 < started_before < len(sessions_of(records)) // 2
