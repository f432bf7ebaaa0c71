"""``make bench``: throughput and memory of each hop on this machine. Prints figures; asserts nothing."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "1000000,5000000").split(",")]
ROOT = Path(__file__).resolve().parent.parent
# By default the producer before the columnar rewrite (row-wise, one Python format call per event), timed in the same
# run; BENCH_REFERENCE=<commit> compares with any other commit.
REFERENCE = os.environ.get("BENCH_REFERENCE", "908642e")
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
# The pipeline's figures (raw -> clean, models, the sparse backfill, the demo) beside the same figures of this commit,
# measured in the same run: by default where the backfill work of issue #15 stood before its last session.
PIPELINE_REFERENCE = os.environ.get("BENCH_PIPELINE_REFERENCE", "8ae15cf")


def phase(*args: str, cwd: Path = ROOT, one_core: bool = False) -> dict:
    # taskset pins a phase to one core where available: the producer's targets are per core.
    pin = ["taskset", "-c", "0"] if one_core and shutil.which("taskset") else []
    out = subprocess.run([*pin, sys.executable, "-m", "benchmarks.phases", *args], check=True, capture_output=True,
                         text=True, cwd=cwd, env={**os.environ, "PYTHONPATH": str(cwd)})
    return json.loads(out.stdout)


def import_seconds(cwd: Path) -> dict:
    """Seconds to import the producer in a fresh interpreter on one core, the best of five."""
    code = ("import time; t = time.perf_counter(); import clickstream_assets.producer.runner; import sys; "
            "print(time.perf_counter() - t, 'dagster' in sys.modules)")
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    runs = [subprocess.run([*pin, sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=cwd,
                           env={**os.environ, "PYTHONPATH": str(cwd)}).stdout.split() for _ in range(5)]
    return {"seconds": min(float(r[0]) for r in runs), "imports_dagster": runs[0][1] == "True"}


def reference_tree(commit: str = REFERENCE) -> Path | None:
    """The reference commit's files in a temporary folder, or None when git or the commit is missing. Its ``sql/``
    is reachable as the package ``clickstream_sql`` there, so the reference runs its own SQL, not ours."""
    try:
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    folder = Path(tempfile.mkdtemp(prefix="clickstream-reference-"))
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    (folder / "clickstream_sql").symlink_to("sql")
    return folder


def repeated(*args: str, cwd: Path = ROOT) -> dict:
    """A one-core producer phase run REPEATS times (other work on the machine makes single runs noisy): the best and
    the median of each rate, the last run's other figures, the highest peak RSS."""
    runs = []
    for _ in range(REPEATS):
        with tempfile.TemporaryDirectory() as warehouse:
            runs.append(phase(*[warehouse if a == "{warehouse}" else a for a in args], cwd=cwd, one_core=True))
    result = {"runs": len(runs)}
    for key in ("events_per_s", "events_per_cpu_s"):
        if key in runs[0]:
            rates = sorted(r[key] for r in runs)
            result[f"{key}_best"], result[f"{key}_median"] = rates[-1], statistics.median(rates)
    result.update({k: v for k, v in runs[-1].items() if k not in ("events_per_s", "events_per_cpu_s")})
    result["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return result


def producer_figures() -> None:
    pinned = "taskset -c 0" if shutil.which("taskset") else "unpinned (no taskset)"
    reference = reference_tree()
    for size in SIZES:
        show(f"producer -> local Firehose-layout sink, {size:,} events, one core ({pinned}; target >= 1,000,000 "
             "events/s)", repeated("produce", "--warehouse", "{warehouse}", "--events", str(size)))
        if reference:
            show(f"reference producer at {REFERENCE} -> local sink, {size:,} events, one core, same run",
                 repeated("produce", "--warehouse", "{warehouse}", "--events", str(size), cwd=reference))
        show(f"producer alone (lines dropped, no disk), {size:,} events, one core",
             repeated("produce-discard", "--events", str(size)))
    show("import clickstream_assets.producer.runner, fresh interpreter, one core (target < 0.3 s)",
         import_seconds(ROOT))
    if reference:
        show(f"the same import at {REFERENCE}", import_seconds(reference))
        shutil.rmtree(reference, ignore_errors=True)
    aggregated = phase("firehose", "--events", "100000")
    plain = phase("firehose-plain", "--events", "100000")
    show("Firehose, 100,000 events, aggregated records (target: billed bytes >= 10x lower)", aggregated)
    show("Firehose, 100,000 events, one record per event", plain)
    print(f"  {'billed bytes ratio':<36} {plain['billed_bytes'] / aggregated['billed_bytes']:,.1f}x")


def sparse_backfill(days: int = 177, sessions_per_day: int = 45, root: Path = ROOT, instance_yaml: str = "",
                    env_extra: dict | None = None) -> dict:
    """A small shop's half-year in the seed's shape, as a user loads it: `clickstream ingest` then `clickstream
    backfill` (one arrival hour per event hour), each in its own process, on an on-disk Dagster instance (the local
    profile's, or ``instance_yaml``). The per-day figures divide the phases' seconds by the partitions they covered:
    the per-partition tax, which is most of it here (Dagster records every partition of every asset of a run)."""
    import gzip
    import re
    import time
    from datetime import date, timedelta

    from tests.strangers import stranger_events

    start = date(2026, 5, 1)
    sent = stranger_events(start, days, sessions_per_day, seed=8)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "history.jsonl.gz"
        source.write_bytes(gzip.compress(b"\n".join(sent.lines) + b"\n"))
        env = {**os.environ, "CLICKSTREAM_HOME": f"{tmp}/w", "DAGSTER_HOME": f"{tmp}/w/dagster",
               "PYTHONPATH": str(root), **(env_extra or {})}
        env.pop("CLICKSTREAM_START_DATE", None)
        if instance_yaml:
            Path(env["DAGSTER_HOME"]).mkdir(parents=True)
            Path(env["DAGSTER_HOME"], "dagster.yaml").write_text(instance_yaml)
        cli = [sys.executable, "-m", "clickstream_assets.cli"]
        began = time.perf_counter()
        subprocess.run([*cli, "ingest", str(source)], env=env, check=True, capture_output=True, cwd=root)
        ingested = time.perf_counter()
        end = (start + timedelta(days=days - 1)).isoformat()
        out = subprocess.run([*cli, "backfill", "--start", start.isoformat(), "--end", end], env=env, check=True,
                             capture_output=True, text=True, cwd=root).stdout
        finished = time.perf_counter()
    phases = {m[0]: float(m[1]) for m in re.findall(r"^(seal arrival days|build event days|rebuild whole tables|"
                                                     r"publish datasets and dashboard)\s+([0-9.]+) s", out, re.M)}
    arrival_days = days + 2  # backfill seals two days past the last: late records
    return {"events": len(sent.lines), "days": days, "ingest_seconds": ingested - began,
            "backfill_seconds": finished - ingested, **{f"{k} s": v for k, v in phases.items()},
            "seconds_per_arrival_day_sealed": phases.get("seal arrival days", 0) / arrival_days,
            "seconds_per_event_day_built": phases.get("build event days", 0) / days}


def postgres_figures() -> None:
    """The sparse half-year on production's Dagster storage, Postgres (a throwaway server from Debian's packages,
    tests/postgres.py): dagster-postgres's storage as it ships, with Dagster's default of storing each event alone
    (what deploy/dagster.yaml ran before), beside deploy/dagster.yaml's storages (resources/dagster_postgres.py)."""
    from tests.postgres import find_postgres, postgres_server

    bin_dir, why = find_postgres()
    if bin_dir is None:
        print(f"\nsparse half-year on Postgres: skipped ({why})")
        return
    ours = "\n".join(f"{kind}_storage:\n  module: resources.dagster_postgres\n  class: PooledPostgres{name}Storage\n"
                     "  config:\n    postgres_url: {url}" for kind, name in
                     [("run", "Run"), ("event_log", "EventLog"), ("schedule", "Schedule")])
    shipped = "storage:\n  postgres:\n    postgres_url: {url}"
    variants = {"dagster-postgres as shipped, events stored one by one": (shipped, {"DAGSTER_EVENT_BATCH_SIZE": "0"}),
                "deploy/dagster.yaml's storages": (ours, {})}
    with postgres_server(bin_dir) as server:
        for index, (label, (storage, env)) in enumerate(variants.items()):
            url = json.dumps(server.url(server.create_database(f"bench_{index}")))  # JSON strings are YAML
            show(f"sparse half-year on Postgres, {label}", sparse_backfill(
                instance_yaml=storage.format(url=url) + "\ntelemetry:\n  enabled: false\n", env_extra=env))


def demo_seconds(root: Path = ROOT) -> dict:
    """`clickstream demo` on a fresh warehouse, in its own process, start-up included: what a newcomer waits."""
    import re
    import time

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CLICKSTREAM_HOME": f"{tmp}/w", "DAGSTER_HOME": f"{tmp}/w/dagster",
               "PYTHONPATH": str(root)}
        env.pop("CLICKSTREAM_START_DATE", None)
        began = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "clickstream_assets.cli", "demo"], env=env, check=True,
                             capture_output=True, text=True, cwd=root).stdout
        seconds = time.perf_counter() - began
    steps = {m[0]: float(m[1]) for m in re.findall(r"^(seal arrival days|build event days|rebuild whole tables|"
                                                    r"publish datasets and dashboard)\s+([0-9.]+) s", out, re.M)}
    produced = re.search(r"^produced ([0-9,]+) events", out, re.M)
    return {"events": int(produced.group(1).replace(",", "")) if produced else 0, "seconds": seconds,
            **{f"{k} s": v for k, v in steps.items()}}


def show(title: str, result: dict) -> None:
    print(f"\n{title}")
    for key, value in result.items():
        if isinstance(value, float):
            value = f"{value:,.3f}" if value < 10 else f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"
        elif isinstance(value, int):
            value = f"{value:,}"
        print(f"  {key:<36} {value}")


def messy_clean(size: int, root: Path) -> dict:
    with tempfile.TemporaryDirectory() as warehouse:
        phase("produce", "--warehouse", warehouse, "--events", str(size), "--malformed-rate", "0.001")
        return phase("clean", "--warehouse", warehouse, cwd=root)


def pipeline_figures(label: str, root: Path) -> None:
    for size in SIZES:
        with tempfile.TemporaryDirectory() as warehouse:
            phase("produce", "--warehouse", warehouse, "--events", str(size))
            reference = phase("copy-reference", "--warehouse", warehouse)
            cleaned = phase("clean", "--warehouse", warehouse, cwd=root)
            cleaned["plain_duckdb_copy_events_per_s"] = reference["events_per_s"]
            cleaned["ratio_to_plain_copy"] = cleaned["events_per_s"] / reference["events_per_s"]
            # The seal alone (raw lines classified, typed and staged with their provenance) beside the same COPY: what
            # raw -> clean would reach if building the clean days cost nothing, its ceiling while each clean day is a
            # file of its own, deduplicated and sorted, written from the staged rows.
            cleaned["seal_alone_ratio_to_plain_copy"] = (cleaned["records"] / cleaned["seal_seconds"]
                                                         / reference["events_per_s"])
            show(f"{label}raw JSON -> sealed hours -> clean events, {size:,} events, beside a plain DuckDB read_json -> "
                 "Parquet COPY of the same objects in the same run (target: ratio >= 0.5, peak RSS < 2 GB at 5M)",
                 cleaned)
            show(f"{label}all models over {size:,} clean events (target: 5M in < 8 s at < 2 GB; dashboard reads "
                 ">= 100x fewer bytes than raw JSON)", phase("models", "--warehouse", warehouse, cwd=root))
        if size == SIZES[0] and root == ROOT:
            show(f"raw JSON -> clean events, {size:,} events of which 0.1% arrive broken (cut short, mistyped, "
                 "missing fields), as a real stream's do: beside the clean objects above", messy_clean(size, root))
    show(f"{label}sparse half-year: clickstream ingest + clickstream backfill, 177 days of a small shop (target: "
         "backfill < 30 s)", sparse_backfill(root=root))
    show(f"{label}make demo after install: clickstream demo on a fresh warehouse (target < 15 s)",
         demo_seconds(root))


def main() -> None:
    """Everything by default; BENCH_ONLY=producer, pipeline or postgres for one part."""
    only = os.environ.get("BENCH_ONLY")
    print(f"clickstream benchmarks on {os.cpu_count()} cores (sizes: {', '.join(f'{s:,}' for s in SIZES)})")
    if only in (None, "producer"):
        producer_figures()
    if only in (None, "postgres"):
        postgres_figures()
    if only not in (None, "pipeline"):
        return
    pipeline_figures("", ROOT)
    reference = reference_tree(PIPELINE_REFERENCE)
    if reference:
        pipeline_figures(f"reference {PIPELINE_REFERENCE}, same run: ", reference)
        shutil.rmtree(reference, ignore_errors=True)


if __name__ == "__main__":
    main()
