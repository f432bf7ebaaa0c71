"""Nobody in: a checked template, no credentials anywhere, identifiers validated, one-line CLI errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import dagster as dg
import pytest

from clickstream_assets.cli.runs import run_assets
from clickstream_assets.definitions import build_definitions
from clickstream_assets.producer.runner import produce_historical
from resources.profile import build_resources
from resources.sinks import FirehoseSink
from resources.sql import check_identifier, check_partition_value

ROOT = Path(__file__).resolve().parent.parent
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
CLI = [str(Path(sys.executable).with_name("clickstream"))]
SECRET_PATTERNS = [re.compile(p) for p in (r"AKIA[0-9A-Z]{16}", r"(?i)aws_secret_access_key\s*[=:]\s*['\"]?[A-Za-z0-9/+]{30,}",
                                           r"-----BEGIN (RSA |EC )?PRIVATE KEY-----")]


def test_checkov_passes_on_the_template_with_only_documented_skips():
    if not CHECKOV.exists():
        pytest.skip("checkov is installed by `make test` (into .venv-checkov)")
    result = subprocess.run([str(CHECKOV), "-f", str(ROOT / "infra" / "clickstream.yaml"), "--quiet", "--compact",
                             "--skip-download"], capture_output=True, text=True, timeout=300)
    assert "Failed checks: 0" in result.stdout, result.stdout[-3000:]
    template = (ROOT / "infra" / "clickstream.yaml").read_text()
    assert template.count("- id: CKV_") == template.count("comment: >-")  # every skip says why


def test_no_credentials_in_the_repository():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    for name in files:
        path = ROOT / name
        if path.suffix in (".png", ".parquet") or not path.is_file():
            continue
        text = path.read_text(errors="ignore")
        for pattern in SECRET_PATTERNS:
            assert not pattern.search(text), f"{name} holds something that looks like a credential"


def test_no_credentials_in_logs_or_materialization_metadata(aws, monkeypatch):
    moto, names = aws
    marker = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYzz9secret"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", marker)
    sink = FirehoseSink(boto3.client("firehose", endpoint_url=moto), names["stream"])
    produce_historical(sink, datetime.now(timezone.utc).date() - timedelta(days=1), 1, 300, seed=2)
    instance = dg.DagsterInstance.ephemeral()
    defs = build_definitions(build_resources("aws"))
    now = datetime.now(timezone.utc)
    outcome = run_assets(defs, instance, [["raw", "events"]],
                          (now - timedelta(hours=1)).date().isoformat(),
                          now.date().isoformat())
    assert outcome.success, outcome.error
    for run in instance.get_runs():
        for record in instance.all_logs(run.run_id):
            assert marker not in repr(record)


@pytest.mark.parametrize("bad", ["events; DROP TABLE x", "Events", "1abc", "a" * 200, "sessions--"])
def test_identifiers_are_validated(bad):
    with pytest.raises(ValueError):
        check_identifier(bad)


@pytest.mark.parametrize("bad", ["2026-11-02/../../etc", "2026-11-02' OR 1=1", "../x", "2026-11-02-99-00"])
def test_partition_values_are_validated(bad):
    with pytest.raises(ValueError):
        check_partition_value(bad)


def run_cli(*args, env=None):
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("args, code, says", [
    (["produce", "--days", "zero"], 2, "invalid"),
    (["produce", "--duplicate-rate", "2"], 2, "not a rate between 0 and 1"),
    (["produce", "--rate", "10"], 2, "live mode needs both --rate and --duration"),
    (["produce", "--rate", "10", "--duration", "1", "--days", "2"], 2, "choose live mode"),
    (["produce", "--start", "2026-02-30"], 2, "is not a date"),
    (["ingest", "/no/such/file.jsonl"], 2, "no such file"),
    (["metrics", "--warehouse", "/no/such/warehouse"], 2, "has no metrics yet"),
    (["demo", "--days", "-1"], 2, "must be greater than 0"),
    (["nonsense"], 2, "invalid choice"),
])
def test_cli_errors_are_one_line_and_non_zero(args, code, says):
    result = run_cli(*args)
    assert result.returncode == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in result.stderr, result.stderr


def test_an_unreachable_endpoint_is_one_line_without_traceback():
    result = run_cli("produce", "--profile", "aws", "--endpoint-url", "http://127.0.0.1:9", "--days", "1",
                     "--events-per-day", "10", env={"AWS_MAX_ATTEMPTS": "1"})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "cannot reach Firehose" in result.stdout + result.stderr


def test_missing_credentials_are_one_line_and_debug_shows_the_traceback(tmp_path):
    env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_EC2_METADATA_DISABLED": "true"}
    quiet = run_cli("provision", "--endpoint-url", "http://127.0.0.1:9", env=env)
    assert quiet.returncode == 1 and len(quiet.stderr.strip().splitlines()) == 1
    assert "credentials" in quiet.stderr.lower()
    loud = run_cli("provision", "--endpoint-url", "http://127.0.0.1:9", "--debug", env=env)
    assert loud.returncode != 0 and "Traceback" in loud.stderr
