"""``make bench``: throughput and memory of each hop on this machine. Prints figures; asserts nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "1000000,5000000").split(",")]


def phase(*args: str) -> dict:
    # taskset pins the producer to one core where available: the target is per core.
    out = subprocess.run([sys.executable, "-m", "benchmarks.phases", *args], check=True, capture_output=True,
                         text=True, cwd=Path(__file__).resolve().parent.parent)
    return json.loads(out.stdout)


def show(title: str, result: dict) -> None:
    print(f"\n{title}")
    for key, value in result.items():
        if isinstance(value, float):
            value = f"{value:,.3f}" if value < 10 else f"{value:,.0f}"
        elif isinstance(value, int):
            value = f"{value:,}"
        print(f"  {key:<36} {value}")


def main() -> None:
    print(f"clickstream benchmarks on {os.cpu_count()} cores (sizes: {', '.join(f'{s:,}' for s in SIZES)})")
    show("producer -> local Firehose-layout sink, one process (target >= 300,000 events/s)",
         phase("produce", "--warehouse", tempfile.mkdtemp(), "--events", str(SIZES[0])))
    show("producer -> FirehoseSink batching, 100,000 events (target >= 99% of the 500-record limit)",
         phase("firehose", "--events", "100000"))
    for size in SIZES:
        with tempfile.TemporaryDirectory() as warehouse:
            phase("produce", "--warehouse", warehouse, "--events", str(size))
            show(f"raw JSON -> sealed hours -> clean events, {size:,} events (target >= 500,000 events/s, "
                 "peak RSS < 2 GB at 5M)", phase("clean", "--warehouse", warehouse))
            show(f"all models over {size:,} clean events (target: 5M in < 20 s; dashboard reads >= 100x fewer bytes "
                 "than raw JSON)", phase("models", "--warehouse", warehouse))


if __name__ == "__main__":
    main()
