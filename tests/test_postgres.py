"""Production's Dagster instance, for real: deploy/dagster.yaml as the image ships it, on a real PostgreSQL server,
runs a backfill, the arrival sensor's ticks and automation, and ends with exactly what SQLite storage gives."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import boto3
import dagster as dg
import dagster_postgres.auth
import dagster_shared.seven
import psycopg2
import pytest
import sqlalchemy
from dagster_postgres.auth import AwsWifTokenProvider

from clickstream_assets.ledger import read_ledgers, read_manifests
from clickstream_assets.partitions import hour_of
from resources.dagster_events import EVENT_BATCH_SIZE
from tests.failing_range import DAYS as RANGE_DAYS
from tests.failing_range import run_failing_range
from tests.pipeline import Pipeline, dashboard_sessions, land, parquet_rows, run_automation, run_sensor
from tests.postgres import find_postgres, postgres_server
from tests.test_deploy import WORKSPACE, code_location_server
from tests.ui import browser, dagster_ui, graphql, no_error_toasts, open_page

ROOT = Path(__file__).resolve().parent.parent
DAY = date(2026, 11, 5)
DAYS = ["2026-11-05", "2026-11-06"]
AFTER_BOTH_DAYS = datetime(2026, 11, 7, 6, tzinfo=timezone.utc)
WATCHED = [["raw", "events"], ["processed", "events"], ["processed", "sessions"], ["quicksight", "dashboard"]]


@pytest.fixture(scope="module")
def postgres():
    bin_dir, why = find_postgres()
    if bin_dir is None:
        pytest.skip(why)
    with postgres_server(bin_dir) as server:
        yield server


@pytest.fixture
def production_instance(postgres, moto, monkeypatch, tmp_path):
    """deploy/dagster.yaml, unchanged, with the variables the ECS task definitions set pointed at the test Postgres
    (a fresh database) and at moto for the run task definition and the compute-log bucket."""
    ecs = boto3.client("ecs", endpoint_url=moto)
    task = ecs.register_task_definition(family="clickstream-dagster-run", containerDefinitions=[
        {"name": "run", "image": "clickstream:test", "essential": True, "memory": 2048}])["taskDefinition"]
    boto3.client("s3", endpoint_url=moto).create_bucket(Bucket="dagster-logs")
    database = postgres.create_database(f"dagster_{tmp_path.name[-24:].lower().replace('-', '_')}")
    for name, value in {**postgres.env(database), "AWS_ENDPOINT_URL": moto, "DAGSTER_COMPUTE_LOG_BUCKET": "dagster-logs",
                        "DAGSTER_RUN_TASK_DEFINITION": task["taskDefinitionArn"]}.items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "dagster_home"
    home.mkdir()
    # S3ComputeLogManager stages each step's logs in /tmp (a task's own in ECS) and leaves them there: here a folder
    # per run would pile up in the developer's /tmp.
    staging = tmp_path / "log_staging"
    staging.mkdir()
    monkeypatch.setattr(dagster_shared.seven, "get_system_temp_directory", lambda: str(staging))
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(home))
    yield instance
    instance.dispose()


def pipeline_story(instance: dg.DagsterInstance, warehouse: Path) -> dict:
    """A backfill of the first day, the arrival sensor's ticks for the rest, automation for everything after:
    the figures a user would look at, from the Parquet, the ledger, the dashboard and the instance's storage."""
    pipeline = Pipeline(warehouse, instance)
    sent = pipeline.produce(DAY, 2, 900, seed=5)
    waiting, auto_cursor = run_automation(pipeline)  # nothing built yet: automation waits, and starts its cursor
    backfill = [pipeline.seal_days(date(2026, 11, 5)), pipeline.build(DAYS[0])]
    assert all(step.success for step in backfill), [step.error for step in backfill]
    sealed, cursor = run_sensor(pipeline, AFTER_BOTH_DAYS, None)
    built, cursor = run_sensor(pipeline, AFTER_BOTH_DAYS, cursor)
    launched, _ = run_automation(pipeline, auto_cursor)
    ledgers = read_ledgers(pipeline.resources["storage"])
    runs = instance.get_runs()
    return {
        "produced": sent.produced,
        "automation_before_data": waiting,
        "sensor_requests": sorted(key.split(":")[0] + ":" + key.split(":")[1] for key in sealed + built),
        "automation_launched": sorted(launched),
        "events_rows": {day: parquet_rows(pipeline, "events", day) for day in DAYS},
        "sessions_rows": {day: parquet_rows(pipeline, "sessions", day) for day in DAYS},
        "events_digest": {day: pipeline.digest("events", day) for day in DAYS},
        "ledger": {day: (d.taken, d.clean, d.duplicates, d.quarantined) for day, d in sorted(ledgers.items())},
        "dashboard_sessions": dashboard_sessions(pipeline),
        # What the instance's own storage says: runs, materialized partitions, check results.
        "runs": (len(runs), sorted({r.status.value for r in runs})),
        "materialized": {"/".join(k): sorted(instance.get_materialized_partitions(dg.AssetKey(k)))
                         if k[0] != "quicksight" else
                         instance.get_latest_materialization_event(dg.AssetKey(k)) is not None for k in WATCHED},
    }


def test_the_pipeline_on_postgres_storage_ends_exactly_as_on_sqlite(production_instance, tmp_path):
    storages = [production_instance.run_storage, production_instance.event_log_storage,
                production_instance.schedule_storage]
    assert [type(s).__name__ for s in storages] == [
        "PooledPostgresRunStorage", "PooledPostgresEventLogStorage", "PooledPostgresScheduleStorage"]
    logins = count_logins(storages)
    # The rest of the production file loads too: the ECS launcher found its run task definition, logs go to S3.
    assert production_instance.run_launcher.task_definition.endswith("task-definition/clickstream-dagster-run:1")
    assert type(production_instance.compute_log_manager).__name__ == "S3ComputeLogManager"

    on_postgres = pipeline_story(production_instance, tmp_path / "pg")
    with dg.instance_for_test() as sqlite_instance:
        assert type(sqlite_instance.run_storage).__name__ == "SqliteRunStorage"
        on_sqlite = pipeline_story(sqlite_instance, tmp_path / "sqlite")

    assert on_postgres == on_sqlite
    # Hundreds of events stored and more read (runs, the sensor, automation), a few logins: each storage keeps its
    # connection, where dagster-postgres opened one per call.
    stored = production_instance.event_log_storage.get_maximum_record_id()
    assert stored > 400 and sum(logins) <= 6, (stored, logins)
    # ... and that shared answer is a real one, not two empty ones.
    assert on_postgres["produced"] == sum(on_postgres["events_rows"].values()) > 1_500
    assert all(n > 0 for n in on_postgres["sessions_rows"].values())
    assert on_postgres["dashboard_sessions"] == sum(on_postgres["sessions_rows"].values())
    assert {"seal:2026-11-06", "new:2026-11-06"} <= set(on_postgres["sensor_requests"])
    assert on_postgres["automation_before_data"] == []
    assert "processed/sessions[2026-11-05,2026-11-06]" in on_postgres["automation_launched"]
    assert on_postgres["runs"][1] == ["SUCCESS"]
    assert on_postgres["materialized"]["processed/events"] == DAYS


def count_logins(storages) -> list[int]:
    """How many connections each storage opens from now on (each is a login: TCP, TLS on RDS, SCRAM)."""
    logins = [0] * len(storages)
    for index, storage in enumerate(storages):
        def opened(*_, index=index):
            logins[index] += 1
        sqlalchemy.event.listen(storage._engine, "connect", opened)
    return logins


def run_a_failing_range(instance: dg.DagsterInstance) -> dict:
    """tests/failing_range.py's run: what the event log then says, read through Dagster and from its tables."""
    result = run_failing_range(instance)
    days = RANGE_DAYS.get_partition_keys()[:60]
    storage = instance.event_log_storage
    with storage.index_connection() as conn:
        tables = {name: sorted(map(tuple, conn.execute(sqlalchemy.text(sql)).fetchall()), key=repr) for name, sql in {
            "events": "SELECT dagster_event_type, asset_key, partition, count(*) FROM event_logs "
                      "WHERE dagster_event_type IS NOT NULL GROUP BY 1, 2, 3",
            "checks": "SELECT asset_key, check_name, partition, execution_status FROM asset_check_executions",
            # A data version is derived from its run's id: which tags, not their values.
            "tags": "SELECT asset_key, key, count(*) FROM asset_event_tags GROUP BY 1, 2",
            "assets": "SELECT asset_key, last_materialization IS NOT NULL, last_run_id IS NOT NULL FROM asset_keys",
        }.items()}
    latest = instance.get_latest_materialization_event(dg.AssetKey("clean"))
    return {
        "success": result.success,
        "status": {key: sorted({s.value for s in instance.get_status_by_partition(
            dg.AssetKey(key), days, RANGE_DAYS).values()}) for key in ("clean", "sessions")},
        "latest": (latest.run_id == result.run_id, latest.asset_materialization.partition,
                   latest.asset_materialization.metadata["rows"].value),
        **tables,
    }


def test_a_range_on_production_storage_records_exactly_what_dagster_postgres_records_event_by_event(
        postgres, production_instance, monkeypatch, tmp_path):
    """deploy/dagster.yaml's storages store a run's per-partition events a batch per transaction; dagster-postgres's
    own storage, configured as its documentation shows, stores them one by one. The event logs must not differ."""
    stock_home = tmp_path / "stock"
    stock_home.mkdir()
    database = postgres.create_database(f"stock_{tmp_path.name[-24:].lower().replace('-', '_')}")
    stock_home.joinpath("dagster.yaml").write_text(json.dumps({  # JSON is YAML
        "storage": {"postgres": {"postgres_url": postgres.url(database)}}, "telemetry": {"enabled": False}}))
    monkeypatch.setenv(EVENT_BATCH_SIZE, "0")  # Dagster's default: every event stored alone
    stock = dg.DagsterInstance.from_config(str(stock_home))
    try:
        assert type(stock.event_log_storage).__name__ == "PostgresEventLogStorage"
        event_by_event = run_a_failing_range(stock)
    finally:
        stock.dispose()

    monkeypatch.delenv(EVENT_BATCH_SIZE)
    production = dg.DagsterInstance.from_config(str(production_instance.root_directory))
    try:
        assert os.environ[EVENT_BATCH_SIZE] == "1000"  # set by the storage, as the image sets nothing
        logins = count_logins([production.event_log_storage])
        in_batches = run_a_failing_range(production)
    finally:
        production.dispose()

    assert in_batches == event_by_event
    assert in_batches["success"] is False
    assert in_batches["status"] == {"clean": ["MATERIALIZED"], "sessions": ["FAILED"]}  # every day, none missing
    assert in_batches["latest"] == (True, "2026-06-29", 3)
    planned = [row for row in in_batches["events"] if row[0] == "ASSET_MATERIALIZATION_PLANNED"]
    assert len(planned) == 120 and {row[3] for row in planned} == {1}  # one per asset and day
    checks_planned = sorted(row[2] for row in in_batches["checks"] if row[3] == "PLANNED")
    assert checks_planned == RANGE_DAYS.get_partition_keys()[:60]  # the check was planned for every day
    assert logins[0] <= 3, logins


def test_connections_the_server_dropped_are_replaced_before_a_call_uses_them(postgres, production_instance):
    """The storages keep their connections between calls; RDS restarts, fails over and drops idle ones. A call after
    that opens a new connection (the kept one fails its ping) instead of failing the run."""
    storages = [production_instance.run_storage, production_instance.event_log_storage,
                production_instance.schedule_storage]
    first = run_a_failing_range(production_instance)
    logins = count_logins(storages)
    admin = psycopg2.connect(host=postgres.host, port=postgres.port, user=postgres.user, password=postgres.password,
                             dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = %s AND pid <> pg_backend_pid()", (os.environ["DAGSTER_PG_DB"],))
        dropped = sum(1 for (terminated,) in cursor.fetchall() if terminated)
    admin.close()
    assert dropped >= 2  # the run and event log storages each kept one

    second = run_a_failing_range(production_instance)
    assert second["success"] is False and second["status"] == first["status"]
    assert len(production_instance.get_runs()) == 2
    assert sum(logins) >= 2


def test_iam_token_logins_reach_the_kept_connections_and_their_replacements(postgres, monkeypatch, tmp_path):
    """RDS IAM authentication (dagster-postgres's ``auth_provider``): each login presents a token valid for 15
    minutes, and a session opened with it outlives it. Here the role's password is the token of the current time
    (each storage asks for its own), replaced when time moves on, as RDS refuses an expired token: the kept
    connections log in with the token of their time, keep working once it has expired, and a connection replaced
    after that logs in with a new one."""
    database = postgres.create_database(f"iam_{tmp_path.name[-24:].lower().replace('-', '_')}")
    admin = psycopg2.connect(host=postgres.host, port=postgres.port, user=postgres.user, password=postgres.password,
                             dbname=database)
    admin.autocommit = True
    with admin.cursor() as cursor:  # a role of its own: the module's other tests log in as postgres.user
        cursor.execute("CREATE ROLE dagster_iam LOGIN")
        cursor.execute(f'ALTER DATABASE "{database}" OWNER TO dagster_iam')
        cursor.execute("ALTER SCHEMA public OWNER TO dagster_iam")
    clock, issued = [time.time()], {}

    def issue_token(_provider):
        if clock[0] not in issued:
            issued[clock[0]] = secrets.token_hex(16)
            with admin.cursor() as cursor:
                cursor.execute("ALTER ROLE dagster_iam PASSWORD %s", (issued[clock[0]],))
        return issued[clock[0]], clock[0] + 900

    monkeypatch.setattr(AwsWifTokenProvider, "_fetch_token", issue_token)
    monkeypatch.setattr(dagster_postgres.auth.time, "time", lambda: clock[0])
    storage = {"postgres_db": {"hostname": postgres.host, "port": postgres.port, "username": "dagster_iam",
                               "db_name": database, "scheme": "postgresql+psycopg2"},
               "auth_provider": {"aws_wif": {"region": "eu-west-1"}}}
    (tmp_path / "dagster.yaml").write_text(json.dumps({"telemetry": {"enabled": False}, **{  # JSON is YAML
        kind: {"module": "resources.dagster_postgres", "class": f"PooledPostgres{name}Storage", "config": storage}
        for kind, name in (("run_storage", "Run"), ("event_log_storage", "EventLog"),
                           ("schedule_storage", "Schedule"))}}))
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        first = run_a_failing_range(instance)
        assert first["status"] == {"clean": ["MATERIALIZED"], "sessions": ["FAILED"]}
        assert len(issued) == 1  # every login of those 15 minutes presented the same token

        clock[0] += 20 * 60  # the token has expired; the sessions opened with it go on
        assert run_a_failing_range(instance)["status"] == first["status"]
        assert len(issued) == 1  # no login: the kept connections served the run

        with admin.cursor() as cursor:  # RDS restarts: the kept connections are gone
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'dagster_iam'")
        assert run_a_failing_range(instance)["status"] == first["status"]
        assert len(issued) == 2 and len(instance.get_runs()) == 3
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            psycopg2.connect(host=postgres.host, port=postgres.port, user="dagster_iam", password=min(issued.items())[1],
                             dbname=database)
    finally:
        instance.dispose()
        admin.close()


def test_the_webserver_tunes_production_storage_as_it_tunes_dagster_postgres(production_instance):
    """dagster-webserver swaps each storage's engine for its own (one held connection, a statement timeout): the
    storages must still read what was recorded through their own engines."""
    run_a_failing_range(production_instance)
    production_instance.optimize_for_webserver(statement_timeout=5000, pool_recycle=3600, max_overflow=20)
    assert [r.status for r in production_instance.get_runs()] == [dg.DagsterRunStatus.FAILURE]
    assert len(production_instance.get_materialized_partitions(dg.AssetKey("clean"))) == 60
    for storage in (production_instance.run_storage, production_instance.event_log_storage):
        with storage._engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("SHOW statement_timeout")).scalar() == "5s"


def test_the_ui_on_production_storage_shows_each_day_built_or_failed(production_instance, chromium, tmp_path):
    """dagster-webserver as production starts it, on deploy/dagster.yaml: the partitions tab a user opens after a
    failed backfill, in Chromium, reads every day from the pooled storages under the webserver's own engine."""
    run_a_failing_range(production_instance)
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(json.dumps({"load_from": [{"python_module": {  # JSON is YAML
        "module_name": "tests.failing_range", "working_directory": str(ROOT)}}]}))
    env = {"DAGSTER_HOME": str(production_instance.root_directory), "PYTHONPATH": str(ROOT)}
    with dagster_ui(tmp_path, ("dagster-webserver",), str(workspace), env) as url, browser(chromium) as b:
        shown = {}
        for asset, status in (("clean", "Materialized"), ("sessions", "Failed")):
            page, watch = open_page(b, f"{url}/assets/{asset}?view=partitions", url)
            page.wait_for_selector(f"text={status} (60)", timeout=60_000)
            shown[asset] = page.inner_text("body")
            no_error_toasts(page)
            assert watch.problems == []
        stats = graphql(url, """{ assetNodes { assetKey { path } partitionStats {
            numMaterialized numFailed numPartitions } } }""")["assetNodes"]
    counts = {"/".join(n["assetKey"]["path"]): n["partitionStats"] for n in stats}
    assert counts["clean"] == {"numMaterialized": 60, "numFailed": 0, "numPartitions": 60}
    assert counts["sessions"] == {"numMaterialized": 0, "numFailed": 60, "numPartitions": 60}
    assert "Failed (60)" not in shown["clean"] and "Materialized (60)" not in shown["sessions"]


def test_a_seal_waits_while_another_run_holds_the_sealing_slot_in_postgres(production_instance, tmp_path):
    pipeline = Pipeline(tmp_path / "w", production_instance)
    pipeline.produce(DAY, 1, 300, seed=9)
    events = production_instance.event_log_storage
    # Another run (in another Fargate task, say) is sealing: it holds the pool's one slot.
    events.initialize_concurrency_limit_to_default("sealing")
    assert events.claim_concurrency_slot("sealing", "other-run", "raw__events").is_claimed
    outcome = {}
    sealing = threading.Thread(target=lambda: outcome.update(
        result=pipeline.seal_days(date(2026, 11, 5))))
    sealing.start()
    deadline = time.monotonic() + 120
    while not events.get_concurrency_info("sealing").pending_run_ids and time.monotonic() < deadline:
        time.sleep(0.2)
    info = events.get_concurrency_info("sealing")
    assert info.slot_count == 1 and info.active_run_ids == {"other-run"}
    assert len(info.pending_run_ids) == 1  # our seal is queued behind it ...
    assert read_manifests(pipeline.resources["storage"]) == {}  # ... and has sealed nothing
    assert production_instance.get_latest_materialization_event(dg.AssetKey(["raw", "events"])) is None
    events.free_concurrency_slots_for_run("other-run")
    sealing.join(timeout=300)
    assert outcome["result"].success, outcome["result"].error
    assert production_instance.get_materialized_partitions(dg.AssetKey(["raw", "events"]))
    assert events.get_concurrency_info("sealing").active_slot_count == 0  # and it gave the slot back


def test_the_daemon_ticks_the_arrival_sensor_through_the_code_location_and_keeps_its_cursor_in_postgres(
        production_instance, monkeypatch, tmp_path):
    """Production's topology in small: the daemon's sensor loop, deploy/workspace.yaml, the image's code-location
    command in its own process, and the tick, the cursor and the queued run in Postgres."""
    import logging

    from dagster._core.test_utils import create_test_daemon_workspace_context
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster._daemon.sensor import execute_sensor_iteration

    warehouse = tmp_path / "w"
    landed = datetime.now(timezone.utc) - timedelta(hours=3)
    hour = hour_of(landed)
    land(warehouse, landed, n=5)
    # The code location reads the same warehouse, as on AWS it reads the same buckets as the runs.
    served = {"CLICKSTREAM_PROFILE": "local", "CLICKSTREAM_HOME": str(warehouse)}
    with code_location_server(tmp_path / "code", served) as port:
        monkeypatch.setenv("DAGSTER_CODE_HOST", "127.0.0.1")
        monkeypatch.setenv("DAGSTER_CODE_PORT", str(port))
        target = WorkspaceFileTarget(paths=[str(WORKSPACE)])
        with create_test_daemon_workspace_context(target, production_instance) as workspace:
            location = workspace.create_request_context().get_code_location("clickstream")
            sensor = next(iter(location.get_repositories().values())).get_sensor("arrival_sensor")
            production_instance.start_sensor(sensor)  # off by default, as a user would switch it on
            list(execute_sensor_iteration(workspace, logging.getLogger("test"), None, None))

    origin, selector = sensor.get_remote_origin_id(), sensor.selector_id
    ticks = production_instance.get_ticks(origin, selector)
    assert [t.status.value for t in ticks] == ["SUCCESS"]
    runs = production_instance.get_runs()
    # The queued run coordinator holds it for the run launcher: on ECS the daemon starts a task for it.
    assert [r.status for r in runs] == [dg.DagsterRunStatus.QUEUED] and ticks[0].run_ids == [runs[0].run_id]
    day = hour[:10]  # the hour is sealed by sealing its arrival day
    assert runs[0].tags["dagster/run_key"].startswith(f"seal:{day}:{day}:")
    assert runs[0].asset_selection == {dg.AssetKey(["raw", "events"])}
    cursor = production_instance.get_instigator_state(origin, selector).instigator_data.cursor
    assert json.loads(cursor) == {"from_hour": hour}  # a restarted daemon resumes here, not from the beginning
