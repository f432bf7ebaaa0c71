"""The ``clickstream`` command line's arguments: one parser, errors as one line."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date

from resources.profile import PROFILES

EXIT_USAGE = 2


class CliError(Exception):
    """A problem the user can fix; printed as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage block
        sys.stderr.write(f"clickstream: error: {message}\n")
        sys.exit(EXIT_USAGE)


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a rate between 0 and 1")
    return value


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text} must be greater than 0")
        return value

    parse.__name__ = kind.__name__
    return parse


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-01") from None


def _currency(text: str) -> str:
    import re

    from clickstream_assets.contract import CURRENCY_PATTERN

    if not re.fullmatch(CURRENCY_PATTERN, text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 4217 code like EUR")
    return text


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=PROFILES, default=os.environ.get("CLICKSTREAM_PROFILE", "local"))
    parser.add_argument("--warehouse", help="local warehouse folder (default $CLICKSTREAM_HOME or ./.clickstream)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")


def _delivery_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stream-name", default=os.environ.get("CLICKSTREAM_STREAM", "clickstream-events"))
    parser.add_argument("--endpoint-url", help="an AWS emulator's URL (aws profile)")
    parser.add_argument("--region", help="AWS region (default $AWS_REGION)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="clickstream", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    produce = commands.add_parser("produce", help="simulate shoppers and deliver their events")
    _common(produce)
    _delivery_args(produce)
    produce.add_argument("--rate", type=_positive(float), help="live mode: events per second")
    produce.add_argument("--duration", type=_positive(float), help="live mode: seconds to run")
    produce.add_argument("--start", type=_day, help="historical mode: first day (default: --days before today)")
    produce.add_argument("--days", type=_positive(int), help="historical mode: number of days (default 1)")
    produce.add_argument("--events-per-day", type=_positive(int), help="historical mode (default 10000)")
    produce.add_argument("--seed", type=int, default=1)
    produce.add_argument("--seed-offset", type=int, default=0, help="live mode: slice number, for new sessions")
    produce.add_argument("--users", type=_positive(int), default=20_000)
    produce.add_argument("--products", type=_positive(int), default=2_000)
    produce.add_argument("--currency", type=_currency, default="USD", help="the shop's ISO 4217 currency (default USD)")
    for knob in ("duplicate", "malformed", "late", "future"):
        produce.add_argument(f"--{knob}-rate", type=_rate, default=0.0)
    produce.add_argument("--aggregate", action=argparse.BooleanOptionalAction, default=True,
                         help="pack many events into each Firehose record (billed per record, rounded up to 5 KB)")

    ingest = commands.add_parser("ingest", help="import newline-delimited JSON events you already have")
    _common(ingest)
    _delivery_args(ingest)
    ingest.add_argument("files", nargs="+", help="files of JSON lines (.gz read as gzip), or - for standard input")
    ingest.add_argument("--via-stream", action="store_true",
                        help="send the lines through the delivery stream as live data arriving now, instead of "
                             "landing them in the arrival hours of their own timestamps (history, the default)")

    metrics = commands.add_parser("metrics", help="recent pipeline metrics and alarm states")
    _common(metrics)
    metrics.add_argument("--hours", type=_positive(float), default=24, help="how far back (default 24)")
    metrics.add_argument("--endpoint-url", help="an AWS emulator's URL (aws profile)")
    metrics.add_argument("--by-partition", action="store_true", help="one row per partition, not per asset")

    backfill = commands.add_parser("backfill", help="seal, build and publish the days you name (local profile)")
    backfill.add_argument("--warehouse", help="local warehouse folder (default $CLICKSTREAM_HOME or ./.clickstream)")
    backfill.add_argument("--start", type=_day, required=True, help="first event day")
    backfill.add_argument("--end", type=_day, required=True, help="last event day")
    backfill.add_argument("--debug", action="store_true", help="show tracebacks")

    cost = commands.add_parser("cost", help="what the pipeline cost, per asset and per day")
    _common(cost)
    cost.add_argument("--hours", type=_positive(float), default=24 * 30, help="how far back (default 30 days)")

    provision = commands.add_parser("provision", help="create the AWS resources through boto3 (emulators too)")
    provision.add_argument("--endpoint-url", help="an AWS emulator's URL (default $AWS_ENDPOINT_URL)")
    provision.add_argument("--region", help="AWS region (default $AWS_REGION)")
    provision.add_argument("--debug", action="store_true", help="show tracebacks")

    deploy = commands.add_parser("deploy", help="create or update the CloudFormation stack on real AWS")
    deploy.add_argument("--region", help="AWS region (default $AWS_REGION)")
    deploy.add_argument("--stack", default="clickstream")
    deploy.add_argument("--debug", action="store_true", help="show tracebacks")

    demo = commands.add_parser("demo", help="a week of traffic through every asset, then a summary")
    demo.add_argument("--warehouse", help="local warehouse folder (default $CLICKSTREAM_HOME or ./.clickstream)")
    demo.add_argument("--days", type=_positive(int), default=7)
    demo.add_argument("--events-per-day", type=_positive(int), default=50_000)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--debug", action="store_true", help="show tracebacks")

    return parser
