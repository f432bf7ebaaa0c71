"""Bad input through the pipeline: every line ends clean or quarantined with the reason the contract gives it.

Hypothesis generates the mess; the SQL classifier (sql/transform/stage_raw.sql on DuckDB) must agree line by line
with the Python reference in contract.py, and nothing from an event may run as SQL or HTML.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clickstream_assets.contract import classify_line
from clickstream_assets.sealing import split_lines
from resources.profile import build_resources
from tests.pipeline import Pipeline

ARRIVAL = datetime(2026, 11, 2, 12, 30, 5)
KEY = "events/2026/11/02/12/clickstream-events-1-2026-11-02-12-30-05-0a0b0c0d-1111-4222-8333-444455556666"
BASE = {
    "event_id": "6f1c2b3a-4d5e-4f60-8a71-b2c3d4e5f607", "schema_version": 1, "timestamp": "2026-11-02T12:29:58.101Z",
    "event_type": "view", "page": "/product/P000001", "product_id": "P000001", "user_id": "u_1",
    "session_id": "s_1", "device_type": "desktop", "browser": "Firefox", "location": "Porto, PT",
    "referrer_url": None, "user_type": "new",
}
NASTY_STRINGS = ["'; DROP TABLE events; --", "<script>alert(1)</script>", "\" onmouseover=\"alert(1)", "Ünïcödé ✓ 日本",
                 "tab\tand\u0007bell", "", " ", "null", "1", "{\"a\":1}", "\\", "Robert'); --", "\u202eevil"]
TIMESTAMPS = ["2026-11-02T12:29:58Z", "2026-11-02T12:29:58.1Z", "2026-11-02T12:29:58.123456Z",
              "2026-11-02T12:29:58.1234567Z", "2026-11-02T12:29:58+00:00", "2026-11-02T14:29:58+02:00",
              "2026-11-02 12:29:58Z", "2026-02-30T10:00:00Z", "2026-13-01T10:00:00Z", "2026-11-02T24:00:00Z",
              "2026-11-02T23:59:60Z", "0000-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "2026-09-01T00:00:00Z",
              "2026-10-04T12:30:05Z", "2026-11-02T12:35:04Z", "2026-11-02T12:35:06Z", "2027-01-01T00:00:00Z",
              "9999-12-31T23:59:59Z", "yesterday", "", "2026-11-02T12:29:58z", "  2026-11-02T12:29:58Z",
              # Other trackers' habits: no zone (UTC), offsets, nanoseconds, and near misses of each.
              "2026-11-02T12:29:58", "2026-11-02T12:29:58.421337", "2026-11-02T12:29:58.123456789Z",
              "2026-11-02T18:59:58+06:30", "2026-11-02T02:29:58-10:00", "2026-11-03T02:29:58+14:00",
              "2026-11-02T12:29:58+00:00", "2026-11-02T12:29:58.1234567891Z", "2026-11-02T12:29:58+0000",
              "2026-11-02T12:29:58+24:00", "2026-11-02T12:29:58-00:60", "2026-11-02T12:29", "2026-11-02"]
FIELDS = list(BASE)
# Contract version 2: a purchase line with its order, unit price, quantity and currency, in the producer's order
# (after product_id), and near misses of each value.
V2 = {k: ({**BASE, "schema_version": 2, "event_type": "purchase", "order_id": "o_1", "price": 19.99, "quantity": 2,
          "currency": "EUR"})[k] for k in [*FIELDS[:6], "order_id", "price", "quantity", "currency", *FIELDS[6:]]}
COMMERCE = ["order_id", "price", "quantity", "currency"]
COMMERCE_VALUES = {
    "order_id": ["o_2", "", "ORDER-\u00e9", 17, None, True],
    "price": [0, 0.0, 12, 12.5, 0.00005, 1e9, 1000000000.0001, -0.01, 1e-320, 1e308, "19.99", None, True, 2**70],
    "quantity": [1, 2, 3.0, 0, -1, 1.5, 1000000, 1000001, 2**70, "2", None, False],
    "currency": ["USD", "eur", "EU", "EURO", "E1R", "", " EUR", "€€€", None, 978],
}
# The original project's shape: its 11 fields, no event_id or schema_version, pages named by kind.
SEED = {k: v for k, v in BASE.items() if k not in ("event_id", "schema_version")} | {
    "page": "product", "timestamp": "2026-11-02T12:29:58.101"}

values = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(NASTY_STRINGS), st.text(max_size=30), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sampled_from(["view", "click", "add_to_cart", "purchase", "hover", "VIEW", "mobile", "tablet", "returning",
                     "new", "1", "1.0"]),
)


@st.composite
def lines(draw) -> bytes:
    kind = draw(st.sampled_from(["mutate", "mutate", "mutate", "timestamp", "drop", "bytes", "truncate", "nan",
                                 "number", "seed", "seed", "commerce", "commerce"]))
    record = dict(BASE)
    if kind == "commerce":
        record = dict(V2)
        for _ in range(draw(st.integers(0, 3))):
            name = draw(st.sampled_from(COMMERCE + ["schema_version", "drop", "event_type"]))
            if name == "drop":
                record.pop(draw(st.sampled_from(COMMERCE)), None)
            elif name == "schema_version":
                record[name] = draw(st.sampled_from([1, 2, 2.0, "2", 3, None]))
            elif name == "event_type":
                record[name] = draw(st.sampled_from(["add_to_cart", "view", "hover"]))
            else:
                record[name] = draw(st.one_of(st.sampled_from(COMMERCE_VALUES[name]), values))
    if kind == "seed":
        record = dict(SEED)
        change = draw(st.sampled_from(["none", "mutate", "timestamp", "drop", "add_version", "add_id"]))
        if change == "mutate":
            record[draw(st.sampled_from(list(SEED)))] = draw(values)
        elif change == "timestamp":
            record["timestamp"] = draw(st.sampled_from(TIMESTAMPS))
        elif change == "drop":
            del record[draw(st.sampled_from(list(SEED)))]
        elif change == "add_version":
            record["schema_version"] = draw(st.sampled_from([1, 2, None, "1"]))
        elif change == "add_id":
            record["event_id"] = draw(st.sampled_from([BASE["event_id"], None, "e-1", 7]))
        if draw(st.booleans()):
            items = list(record.items())
            record = dict(draw(st.permutations(items)))
    if kind == "mutate":
        for _ in range(draw(st.integers(1, 3))):
            record[draw(st.sampled_from(FIELDS))] = draw(values)
    elif kind == "timestamp":
        record["timestamp"] = draw(st.sampled_from(TIMESTAMPS))
    elif kind == "drop":
        del record[draw(st.sampled_from(FIELDS))]
    elif kind == "bytes":
        return draw(st.binary(max_size=60)).replace(b"\n", b" ")
    # Compact lines in contract order are the producer's own shape, which the SQL takes by a fast path: draw both.
    comma, colon = draw(st.sampled_from([(",", ":"), (", ", ": ")]))
    text = json.dumps(record, ensure_ascii=draw(st.booleans()), separators=(comma, colon))
    version = f'"schema_version"{colon}{record.get("schema_version")}'
    if kind == "truncate":
        return text[: draw(st.integers(0, len(text) - 1))].encode()
    if kind == "nan":
        return text.replace(version, version[:-1] + "NaN").encode()
    if kind == "number":
        return text.replace(version, version[:-1] + draw(st.sampled_from(["1.0", "1e0", "01", "-1", "2"]))).encode()
    return text.encode()


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return build_resources("local", tmp_path_factory.mktemp("w"))["engine"]


def classify_in_sql(engine, batch: list[bytes]) -> list[tuple]:
    """(reason, event_id, UTC event time, order_id, price, quantity, currency) of each line as the SQL stages it."""
    table, _ = split_lines(KEY, "2026-11-02-12", b"\n".join(batch) + b"\n")
    import pyarrow as pa

    result, _ = engine.query("transform/stage_raw.sql", {"calendar_start": "2000-01-01", "max_event_age_days": 30},
                             inputs={"raw_lines": pa.Table.from_batches([table])})
    by_line = {r["line_number"]: (r["reason"], r["event_id"], r["event_ts"], *(r[f] for f in COMMERCE))
               for r in result.to_pylist()}
    return [by_line[i + 1] for i in range(len(batch))]


@settings(max_examples=int(__import__("os").environ.get("BAD_INPUT_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(batch=st.lists(lines(), min_size=1, max_size=40))
def test_sql_and_the_reference_give_every_line_the_same_verdict(engine, batch):
    expected = classify_in_reference(batch)
    got = classify_in_sql(engine, batch)
    assert got == expected, [(line, e, g) for line, e, g in zip(batch, expected, got) if e != g][:3]


def classify_in_reference(batch: list[bytes]) -> list[tuple]:
    verdicts = [classify_line(line, ARRIVAL.replace(tzinfo=timezone.utc)) for line in batch]
    return [(v.reason, v.event_id, v.event_time and v.event_time.replace(tzinfo=None),
             *(getattr(v.commerce, f) for f in COMMERCE)) for v in verdicts]


def test_lines_a_few_bytes_off_the_producers_shape_get_the_references_verdict(engine):
    """The SQL trusts a line that reads back exactly as the producer writes its values: near misses of that text
    (numbers written otherwise, escapes, repeated or null fields, NaN) must take the exact path."""
    shape = json.dumps(V2, separators=(",", ":"))
    swaps = [("19.99", "nan"), ("19.99", "NaN"), ("19.99", "Infinity"), ("19.99", "-0"), ("19.99", "1E2"),
             ("19.99", "19.990"), ("19.99", "019.99"), ('"quantity":2', '"quantity":2.0'), ('"quantity":2', '"quantity":inf'),
             ('"schema_version":2', '"schema_version":2.0'), ('"schema_version":2', '"schema_version":"2"'),
             ('"P000001"', '"P00\u00301"'), ('"P000001"', '"P00\"01"'), ('"P000001"', "null"),
             ('"P000001"', '"null"'), ('"product_id"', '"product_id":"x","product_id"'), ('"EUR"', '"E\tR"'),
             ('"EUR"', "null"), ('"Firefox"', '"Fire\u0000fox"'), ('"Firefox"', '"Fire	fox"'), (",", ", ")]
    lines = [shape.encode(), *(shape.replace(old, new, 1).encode() for old, new in swaps)]
    lines += [json.dumps({**BASE, "timestamp": 5}, separators=(",", ":")).encode()]
    # Braced like an object without being one: the SQL parses such text without validating it first.
    lines += [(shape[: len(shape) // 2] + "}").encode(), (shape + shape).encode(), shape.replace('","', '" "', 1).encode(),
              shape.replace(":", "", 1).encode(), b"{}", b"{ nonsense }", b"{\"a\":1}}", b"{]}"]
    assert classify_in_sql(engine, lines) == classify_in_reference(lines)


def test_a_line_over_a_megabyte_is_classified_not_crashed(engine):
    big = json.dumps({**BASE, "location": "x" * 1_200_000}).encode()
    truncated = big[: 1_100_000]
    assert [found[0] for found in classify_in_sql(engine, [big, truncated])] == [None, "malformed_json"]


def test_nasty_input_through_the_whole_pipeline_is_quarantined_or_kept_literally(tmp_path):
    pipeline = Pipeline(tmp_path / "w")
    pipeline.produce(date(2026, 11, 2), 1, 400)
    evil = {**BASE, "event_id": "7f1c2b3a-4d5e-4f60-8a71-b2c3d4e5f607", "location": "<script>alert(1)</script>",
            "browser": "'; DROP TABLE events; --", "product_id": "<img src=x onerror=alert(1)>",
            "page": "/product/<b>bold</b>", "referrer_url": "javascript:alert(1)"}
    junk = [json.dumps(evil), "\udcff\udcfe not json", "{\"event_id\": ", json.dumps({**BASE, "timestamp": "2026-02-30T00:00:00Z"})]
    from resources.sinks import LocalFirehoseSink

    sink = LocalFirehoseSink(str(pipeline.warehouse / "raw"), seed=99)
    sink.send(junk, now=datetime(2026, 11, 2, 12, 30, 5, tzinfo=timezone.utc).timestamp())
    sink.flush()
    assert pipeline.seal_days(date(2026, 11, 2)).success
    from tests.pipeline import DAILY, PUBLISH, WHOLE

    outcomes = [pipeline.build("2026-11-02"), pipeline.build("2026-11-02", keys=DAILY),
                pipeline.build(None, None, keys=WHOLE), pipeline.build(None, None, keys=PUBLISH)]
    for outcome in outcomes:
        assert outcome.success and not outcome.blocking_failed, (outcome.error, outcome.blocking_failed)
    clean = pq.read_table(pipeline.parquet("events", "2026-11-02")).to_pylist()
    kept = [r for r in clean if r["event_id"] == evil["event_id"]]
    assert kept and kept[0]["browser"] == "'; DROP TABLE events; --"  # stored as text, never run
    quarantined = pq.read_table(pipeline.parquet("quarantine", "2026-11-02")).to_pylist()
    assert {r["reason"] for r in quarantined} >= {"malformed_json", "bad_timestamp"}
    html = (pipeline.warehouse / "dashboard" / "index.html").read_text()
    # The page's own scripts aside, the strings sit in its JSON with every "<" escaped: none can open a tag.
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "\\u003cimg src=x onerror=alert(1)>" in html  # the product is listed, as text
