"""The contract's validator gives each raw line exactly one verdict, the one a user would expect."""

import json
from datetime import datetime, timedelta, timezone

import pytest

from clickstream_assets.contract import EVENT_SCHEMA, FIELDS, REASONS, classify_line

ARRIVAL = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
GOOD = {
    "event_id": "0b7c4a9e-1f2d-4c3b-8a5e-6f7a8b9c0d1e",
    "schema_version": 1,
    "timestamp": "2026-11-01T11:59:58.120Z",
    "event_type": "add_to_cart",
    "page": "/product/P000042",
    "product_id": "P000042",
    "user_id": "u_00000000002a",
    "session_id": "7d1f0a4c-2b3e-4f50-9a61-7b8c9d0e1f20",
    "device_type": "mobile",
    "browser": "Mobile Safari",
    "location": "Lyon, FR",
    "referrer_url": None,
    "user_type": "returning",
}


def verdict(**changes):
    record = {**GOOD, **changes}
    for name, value in changes.items():
        if value is KeyError:
            del record[name]
    return classify_line(json.dumps(record), ARRIVAL).reason


def test_a_good_event_is_valid_and_keeps_its_time():
    result = classify_line(json.dumps(GOOD).encode(), ARRIVAL)
    assert result.valid
    assert result.event_time == datetime(2026, 11, 1, 11, 59, 58, 120000, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "line, reason",
    [
        (b"", "malformed_json"),
        (b'{"event_id": "x"', "malformed_json"),
        (b"\xff\xfe not utf-8", "malformed_json"),
        (b"[1, 2, 3]", "malformed_json"),
        (b'{"schema_version": NaN}', "malformed_json"),
        (b"null", "malformed_json"),
    ],
)
def test_lines_that_are_not_json_objects_are_malformed(line, reason):
    assert classify_line(line, ARRIVAL).reason == reason


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"user_id": KeyError}, "missing_field"),
        ({"session_id": None}, "missing_field"),
        ({"timestamp": KeyError}, "missing_field"),
        ({"page": 404}, "bad_type"),
        ({"schema_version": "1"}, "bad_type"),
        ({"schema_version": True}, "bad_type"),
        ({"product_id": 17}, "bad_type"),
        ({"event_type": "hover"}, "unknown_event_type"),
        ({"event_type": "VIEW"}, "unknown_event_type"),
        ({"device_type": "smartwatch"}, "bad_value"),
        ({"user_type": "vip"}, "bad_value"),
        ({"schema_version": 3}, "bad_value"),
        ({"event_id": "not-a-uuid"}, "bad_value"),
        ({"timestamp": "2026-11-01T11:59:58+24:00"}, "bad_timestamp"),
        ({"timestamp": "2026-11-01T11:59:58.1234567890Z"}, "bad_timestamp"),  # 10 fractional digits
        ({"timestamp": "2026-11-01T11:59:58+0200"}, "bad_timestamp"),
        ({"event_id": KeyError}, "missing_field"),  # a versioned event must carry its id
        ({"event_id": None}, "missing_field"),
        ({"timestamp": "2026-11-01 11:59:58"}, "bad_timestamp"),
        ({"timestamp": "2026-02-30T10:00:00Z"}, "bad_timestamp"),
        ({"timestamp": "2026-09-01T10:00:00Z"}, "bad_timestamp"),  # older than 30 days at arrival
        ({"timestamp": "2026-11-01T12:06:00Z"}, "future_timestamp"),
        ({"timestamp": "2027-11-01T12:00:00Z"}, "future_timestamp"),
    ],
)
def test_each_problem_gets_its_reason(changes, reason):
    assert verdict(**changes) == reason


def test_optional_fields_may_be_null_or_absent_and_clock_skew_is_tolerated():
    assert verdict(product_id=None, referrer_url=KeyError) is None
    assert verdict(timestamp=(ARRIVAL + timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M:%SZ")) is None


@pytest.mark.parametrize(
    "text, utc",
    [
        ("2026-11-01T11:59:58Z", datetime(2026, 11, 1, 11, 59, 58)),
        ("2026-11-01T11:59:58", datetime(2026, 11, 1, 11, 59, 58)),  # no zone: taken as UTC
        ("2026-11-01T13:59:58+02:00", datetime(2026, 11, 1, 11, 59, 58)),
        ("2026-11-01T06:29:58.5-05:30", datetime(2026, 11, 1, 11, 59, 58, 500000)),
        ("2026-11-01T11:59:58.123456789+00:00", datetime(2026, 11, 1, 11, 59, 58, 123456)),  # cut, not rounded
        ("2026-11-02T01:59:58+14:00", datetime(2026, 11, 1, 11, 59, 58)),  # another day locally
    ],
)
def test_timestamps_with_offsets_or_no_zone_are_read_as_utc(text, utc):
    result = classify_line(json.dumps({**GOOD, "timestamp": text}), ARRIVAL)
    assert result.valid and result.event_time == utc.replace(tzinfo=timezone.utc)


SEED = {  # the original project's 11 fields: no event_id, no schema_version, datetime.isoformat() timestamps
    "user_id": "user_17", "session_id": "sess_3", "event_type": "view", "page": "product", "product_id": "prod_9",
    "timestamp": "2026-11-01T11:58:00.421337", "device_type": "mobile", "referrer_url": "https://google.com",
    "location": "USA", "browser": "Chrome", "user_type": "new",
}


def test_an_event_in_the_original_shape_is_valid_with_an_id_made_from_its_content():
    first = classify_line(json.dumps(SEED), ARRIVAL)
    again = classify_line(json.dumps(dict(reversed(list(SEED.items())))), ARRIVAL)  # same event, other key order
    other = classify_line(json.dumps({**SEED, "page": "checkout"}), ARRIVAL)
    assert first.valid and first.event_time == datetime(2026, 11, 1, 11, 58, 0, 421337, tzinfo=timezone.utc)
    assert first.event_id == again.event_id != other.event_id
    assert len(first.event_id) == 36 and first.event_id.count("-") == 4


def test_an_original_shape_event_keeps_its_own_id_if_it_sends_one_and_still_meets_the_rules():
    assert classify_line(json.dumps({**SEED, "event_id": GOOD["event_id"]}), ARRIVAL).event_id == GOOD["event_id"]
    assert classify_line(json.dumps({**SEED, "device_type": "fridge"}), ARRIVAL).reason == "bad_value"
    assert classify_line(json.dumps({**SEED, "event_type": "scroll"}), ARRIVAL).reason == "unknown_event_type"
    assert classify_line(json.dumps({**SEED, "event_id": "e-1"}), ARRIVAL).reason == "bad_value"


def test_the_first_problem_in_contract_order_wins():
    assert verdict(user_id=KeyError, event_type="hover") == "missing_field"
    assert verdict(event_type="hover", timestamp="yesterday") == "unknown_event_type"
    assert set(REASONS) >= {"malformed_json", "missing_field", "bad_type", "unknown_event_type", "bad_timestamp",
                            "future_timestamp"}


def test_the_arrow_schema_holds_every_contract_field():
    stored = set(EVENT_SCHEMA.names)
    assert {f for f in FIELDS if f != "timestamp"} <= stored
    assert "event_ts" in stored


def test_the_sql_uses_the_contracts_timestamp_pattern():
    from clickstream_assets.contract import TIMESTAMP_PATTERN
    from resources.sql import SQL_ROOT

    assert TIMESTAMP_PATTERN in (SQL_ROOT / "transform" / "stage_raw.sql").read_text()


# Contract version 2: a purchase line with its order, unit price, quantity and currency.
LINE = {**GOOD, "schema_version": 2, "event_type": "purchase", "page": "/checkout/confirmation",
        "order_id": "o_42", "price": 19.99, "quantity": 2, "currency": "EUR"}


def test_a_version_2_purchase_keeps_its_order_price_quantity_and_currency():
    from decimal import Decimal

    result = classify_line(json.dumps(LINE), ARRIVAL)
    assert result.valid
    assert (result.commerce.order_id, result.commerce.price, result.commerce.quantity, result.commerce.currency) == (
        "o_42", Decimal("19.9900"), 2, "EUR")


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"quantity": KeyError, "order_id": KeyError}, None),  # optional: an add_to_cart has no order yet
        ({"price": KeyError, "currency": KeyError}, None),  # no value known: still an order line
        ({"quantity": 3.0}, None),
        ({"price": 0}, None),
        ({"currency": KeyError}, "missing_field"),  # a price needs its currency
        ({"price": "19.99"}, "bad_type"),
        ({"quantity": True}, "bad_type"),
        ({"order_id": 42}, "bad_type"),
        ({"currency": 978}, "bad_type"),
        ({"quantity": 0}, "bad_value"),
        ({"quantity": 1.5}, "bad_value"),
        ({"price": -0.01}, "bad_value"),
        ({"price": 2e9}, "bad_value"),
        ({"currency": "eur"}, "bad_value"),
        ({"currency": "EURO"}, "bad_value"),
        ({"order_id": ""}, "bad_value"),
        ({"event_type": "checkout", "price": "x"}, "bad_type"),  # contract order: bad_type before the event type
    ],
)
def test_each_commerce_problem_gets_its_reason(changes, reason):
    record = {**LINE, **changes}
    for name, value in changes.items():
        if value is KeyError:
            del record[name]
    assert classify_line(json.dumps(record), ARRIVAL).reason == reason


def test_versions_1_and_0_ignore_commerce_fields_and_keep_their_verdicts():
    for version in ({"schema_version": 1}, {"schema_version": KeyError}):
        record = {**LINE, "price": "not checked", "currency": "xx", **version}
        if version["schema_version"] is KeyError:
            del record["schema_version"]
        result = classify_line(json.dumps(record), ARRIVAL)
        assert result.valid and result.commerce.price is None and result.commerce.order_id is None
