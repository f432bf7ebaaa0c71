"""The event contract, defined once: fields, accepted values, Arrow schema, reason codes and the reference validator.

The producer writes events in this shape, the SQL in ``sql/transform/stage_raw.sql`` classifies raw lines by these
rules (a test holds the SQL and :func:`classify_line` to the same answers on random input), and the DDL in
``sql/ddl/`` declares these columns (a test compares them).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

import pyarrow as pa

# Version 2 adds the commerce fields (COMMERCE_FIELDS); version 1 is the same contract without them. Both stay valid.
SCHEMA_VERSION = 2
SCHEMA_VERSIONS = (1, 2)
COMMERCE_VERSION = 2
# Events without a schema_version are the original project's shape: its 11 fields, no event_id. They are kept
# with this version so a reader can tell them from events written to the contract.
ORIGINAL_SHAPE_VERSION = 0

EVENT_TYPES = ("view", "click", "add_to_cart", "purchase")
DEVICE_TYPES = ("mobile", "desktop", "tablet")
USER_TYPES = ("new", "returning")

# Field order is the order of the JSON the producer writes and of the clean table's columns.
FIELDS = (
    "event_id",
    "schema_version",
    "timestamp",
    "event_type",
    "page",
    "product_id",
    "user_id",
    "session_id",
    "device_type",
    "browser",
    "location",
    "referrer_url",
    "user_type",
)
# Absent or null both mean "none" for these two: a home page has no product, a direct visit no referrer.
OPTIONAL_FIELDS = ("product_id", "referrer_url")
# The original shape has neither: no schema_version means that shape, and its event_id is derived from the
# content (see derive_event_id). An event that names a schema_version must carry its own event_id.
VERSION_FIELDS = ("event_id", "schema_version")
REQUIRED_FIELDS = tuple(f for f in FIELDS if f not in OPTIONAL_FIELDS + VERSION_FIELDS)
# The fields a derived event_id hashes, in this order: the original project's 11.
CONTENT_FIELDS = tuple(f for f in FIELDS if f not in VERSION_FIELDS)
# Never inside a JSON string the trackers send (a control character), so joined fields cannot run together.
CONTENT_SEPARATOR = "\x1f"

# Version 2, additive and optional, as Snowplow's e-commerce, GA4's items and Amplitude's revenue carry them: the
# order a purchase line belongs to (an order is every purchase sharing an order_id), the unit price, the quantity
# (absent means 1) and the ISO 4217 currency (required with a price). Read only from version 2 events: a version 1 or
# original-shape event keeps exactly the verdict it had, whatever else it carries. Not in FIELDS, so the id derived
# for the original shape hashes the same 11 fields as before.
COMMERCE_FIELDS = ("order_id", "price", "quantity", "currency")
# A unit price above this is a tracker's bug, not a sale; it also keeps price inside DECIMAL(18,4).
MAX_PRICE = 1_000_000_000
MAX_QUANTITY = 1_000_000
CURRENCY_PATTERN = r"^[A-Z]{3}$"
PRICE_SCALE = Decimal("0.0001")  # DECIMAL(18,4): four places suit every ISO 4217 minor unit

# One reason per rejected line, checked in this order (the first that applies wins).
REASONS = (
    "malformed_json",  # not UTF-8 JSON, or not a JSON object
    "missing_field",  # a required field is absent or null
    "bad_type",  # a field has the wrong JSON type
    "unknown_event_type",  # event_type outside EVENT_TYPES
    "bad_value",  # device_type, user_type, schema_version, event_id or a commerce field outside its accepted values
    "bad_timestamp",  # not ISO-8601 (Z, an offset or no zone), an impossible date, or older than the age guard
    "future_timestamp",  # later than its arrival plus CLOCK_SKEW
)

# Devices' clocks drift; an event a few minutes "ahead" of Firehose's arrival time is still believable.
CLOCK_SKEW = timedelta(minutes=5)
# Like the AWS solution's late-event cut-off, for live streams: older events would reopen days nobody rebuilds.
# History is imported into the arrival hours of its own events (``clickstream ingest``), so it never trips this.
MAX_EVENT_AGE = timedelta(days=30)

# ISO-8601 as trackers write it: ``Z``, any ``+hh:mm``/``-hh:mm`` offset (converted to UTC) or no zone at all
# (``datetime.isoformat()`` of a naive time: taken as UTC), with up to 9 fractional digits (kept to the
# microsecond, truncated). Hours 00-23, minutes and seconds 00-59: some parsers roll 24:00:00 and leap seconds
# into the next minute or day.
TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?"
    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?$"
)
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_TIMESTAMP_RE = re.compile(TIMESTAMP_PATTERN)
_UUID_RE = re.compile(UUID_PATTERN)
_CURRENCY_RE = re.compile(CURRENCY_PATTERN)

# Pages the funnel keys on; the SQL models use the same literals.
CHECKOUT_PAGE = "/checkout"
CONFIRMATION_PAGE = "/checkout/confirmation"
PRODUCT_PAGE_PREFIX = "/product/"

EVENT_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("schema_version", pa.int32(), nullable=False),
        pa.field("event_ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("event_type", pa.string(), nullable=False),
        pa.field("page", pa.string(), nullable=False),
        pa.field("product_id", pa.string()),
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("session_id", pa.string(), nullable=False),
        pa.field("device_type", pa.string(), nullable=False),
        pa.field("browser", pa.string(), nullable=False),
        pa.field("location", pa.string(), nullable=False),
        pa.field("referrer_url", pa.string()),
        pa.field("user_type", pa.string(), nullable=False),
        pa.field("arrival_ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("source_object", pa.string(), nullable=False),
        # Version 2's commerce fields, last so the table only grows at its end (Glue and Parquet read by name).
        pa.field("order_id", pa.string()),
        pa.field("price", pa.decimal128(18, 4)),
        pa.field("quantity", pa.int32()),
        pa.field("currency", pa.string()),
    ]
)
"""Clean events as stored (partition column ``dt`` is the directory); ``timestamp`` becomes ``event_ts``."""


@dataclass(frozen=True)
class Commerce:
    """A valid version 2 event's commerce fields as stored (each None when not sent)."""

    order_id: str | None = None
    price: Decimal | None = None
    quantity: int | None = None
    currency: str | None = None


@dataclass(frozen=True)
class Verdict:
    reason: str | None
    event_time: datetime | None = None
    event_id: str | None = None  # as sent, or derived from the content when the event has none
    commerce: Commerce = Commerce()

    @property
    def valid(self) -> bool:
        return self.reason is None


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def parse_timestamp(text: str) -> datetime | None:
    """An ISO-8601 timestamp of the accepted forms with a real calendar date, in UTC; else None."""
    if not _TIMESTAMP_RE.match(text):
        return None
    zone = timezone.utc
    body = text
    if text.endswith("Z"):
        body = text[:-1]
    elif len(text) > 19 and text[-6] in "+-":
        body, sign = text[:-6], -1 if text[-6] == "-" else 1
        zone = timezone(sign * timedelta(hours=int(text[-5:-3]), minutes=int(text[-2:])))
    whole, _, fraction = body.partition(".")
    try:
        moment = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    micros = int((fraction + "000000")[:6]) if fraction else 0
    return moment.replace(microsecond=micros, tzinfo=zone).astimezone(timezone.utc)


def derive_event_id(record: dict) -> str:
    """A deterministic id for an event sent without one: the MD5 of its 11 content fields, shaped like a UUID.

    A Firehose redelivery of the same record gets the same id and is removed as a duplicate. Two genuinely
    separate events with identical content (same user, session, page and timestamp to the digit) get one id
    too: nothing in the record tells them apart, so they count once and the second as a duplicate.
    """
    content = CONTENT_SEPARATOR.join(record.get(f) or "" for f in CONTENT_FIELDS)
    digest = hashlib.md5(content.encode("utf-8", errors="surrogatepass")).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"


def format_timestamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _commerce_problem(record: dict) -> str | None:
    """The first reason a version 2 event's commerce fields give, in contract order, or None."""
    if record.get("price") is not None and record.get("currency") is None:
        return "missing_field"
    order_id, price, quantity, currency = (record.get(f) for f in COMMERCE_FIELDS)
    if ((order_id is not None and not isinstance(order_id, str)) or (price is not None and not _is_number(price))
            or (quantity is not None and not _is_number(quantity))
            or (currency is not None and not isinstance(currency, str))):
        return "bad_type"
    return None


def _as_float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:  # an integer of hundreds of digits: out of every range below
        return math.inf


def _commerce_value_bad(record: dict) -> bool:
    order_id, price, quantity, currency = (record.get(f) for f in COMMERCE_FIELDS)
    price = None if price is None else _as_float(price)
    quantity = None if quantity is None else _as_float(quantity)
    return (
        order_id == ""
        or (price is not None and not 0 <= price <= MAX_PRICE)
        or (quantity is not None and not (1 <= quantity <= MAX_QUANTITY and quantity.is_integer()))
        or (currency is not None and not _CURRENCY_RE.fullmatch(currency))
    )


def _commerce(record: dict) -> Commerce:
    price, quantity = record.get("price"), record.get("quantity")
    return Commerce(
        record.get("order_id"),
        None if price is None else Decimal(repr(float(price))).quantize(PRICE_SCALE, rounding=ROUND_HALF_UP),
        None if quantity is None else int(quantity),
        record.get("currency"),
    )


def classify_line(line: bytes | str, arrival: datetime, max_event_age: timedelta = MAX_EVENT_AGE) -> Verdict:
    """Classify one raw line as valid or as exactly one reason code: the reference for the SQL."""
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
        record = json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return Verdict("malformed_json")
    if not isinstance(record, dict):
        return Verdict("malformed_json")
    version = record.get("schema_version")
    original_shape = version is None
    commerce = _is_number(version) and version == COMMERCE_VERSION
    problem = _commerce_problem(record) if commerce else None
    if (any(record.get(f) is None for f in REQUIRED_FIELDS) or (not original_shape and record.get("event_id") is None)
            or problem == "missing_field"):
        return Verdict("missing_field")
    if any(not isinstance(record[f], str) for f in REQUIRED_FIELDS):
        return Verdict("bad_type")
    if any(record.get(f) is not None and not isinstance(record[f], str) for f in OPTIONAL_FIELDS + ("event_id",)):
        return Verdict("bad_type")
    if not original_shape and not _is_number(version):
        return Verdict("bad_type")
    if problem:  # bad_type: commerce fields count only on version 2 events
        return Verdict(problem)
    if record["event_type"] not in EVENT_TYPES:
        return Verdict("unknown_event_type")
    event_id = record.get("event_id")
    if (
        record["device_type"] not in DEVICE_TYPES
        or record["user_type"] not in USER_TYPES
        or not (original_shape or (math.isfinite(version) and version in SCHEMA_VERSIONS))
        or (event_id is not None and not _UUID_RE.match(event_id))
        or (commerce and _commerce_value_bad(record))
    ):
        return Verdict("bad_value")
    moment = parse_timestamp(record["timestamp"])
    if moment is None or moment < arrival - max_event_age:
        return Verdict("bad_timestamp")
    if moment > arrival + CLOCK_SKEW:
        return Verdict("future_timestamp")
    return Verdict(None, moment, event_id or derive_event_id(record), _commerce(record) if commerce else Commerce())

