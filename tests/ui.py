"""A small materialized warehouse, a real `dagster dev` on it, headless Chromium: shared by the browser tests
and `make screenshots`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
START = date(2026, 11, 2)
DAYS = ["2026-11-02", "2026-11-03", "2026-11-04"]


def find_chromium(install: bool = True) -> str | None:
    """System Chromium; installed from Debian's packages when missing and we may (root, apt available)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found or not install:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env, capture_output=True, timeout=900)
    return shutil.which("chromium") or shutil.which("chromium-browser")


def build_warehouse(warehouse: Path) -> None:
    """Three days of traffic through every asset, on the warehouse's own on-disk Dagster instance."""
    import dagster as dg

    from clickstream_assets.cli.runs import run_plan
    from clickstream_assets.definitions import build_definitions
    from clickstream_assets.producer.runner import produce_historical
    from clickstream_assets.producer.simulator import Mess
    from resources.dagster_instance import write_instance_yaml
    from resources.profile import build_resources
    from resources.sinks import LocalFirehoseSink

    now = datetime(2026, 11, 20, tzinfo=timezone.utc)
    produce_historical(LocalFirehoseSink(str(warehouse / "raw"), seed=3), START, 3, 2_000, seed=3,
                       mess=Mess(duplicate_rate=0.01, malformed_rate=0.005), now=now)
    home = warehouse / "dagster"  # explicitly here, whatever DAGSTER_HOME this process has
    home.mkdir(parents=True, exist_ok=True)
    write_instance_yaml(home)  # the local profile's instance, as make demo and make ui use it
    from dagster._core.instance.ref import InstanceRef

    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    defs = build_definitions(build_resources("local", warehouse))
    outcomes = run_plan(defs, instance, ("2026-11-02", "2026-11-05"), (DAYS[0], DAYS[-1]))
    assert len(outcomes) == 4 and all(o.success for o in outcomes), [o.error for o in outcomes]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(f"{url}/graphql", data=json.dumps({"query": query, "variables": variables or {}})
                                     .encode(), headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.loads(response.read())
    if body.get("errors"):
        raise AssertionError(body["errors"])
    return body["data"]


@contextmanager
def dagster_ui(warehouse: Path, command: Sequence[str] = ("dagster", "dev"), workspace: str = "workspace.yaml",
               env: Mapping[str, str] | None = None):
    """`dagster dev` (webserver and daemon) on 127.0.0.1 over the warehouse; stopped by PID, whatever happens.
    ``command`` (``dagster-webserver`` alone, as production runs it), ``workspace`` and ``env`` change that."""
    port = free_port()
    env = {**os.environ, "CLICKSTREAM_HOME": str(warehouse), "DAGSTER_HOME": str(warehouse / "dagster"),
           "CLICKSTREAM_PROFILE": "local", "PYTHONUNBUFFERED": "1", **(env or {})}
    log_path = warehouse / f"{'-'.join(command)}.log"
    log = open(log_path, "w")
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name(command[0])), *command[1:], "-w", workspace, "-h", "127.0.0.1", "-p",
         str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        preexec_fn=lambda: [signal.signal(s, signal.SIG_DFL) for s in (signal.SIGTERM, signal.SIGINT)],
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if graphql(url, "{ version }")["version"]:
                    break
            except Exception:
                if process.poll() is not None or time.monotonic() > deadline:
                    log_text = log_path.read_text()[-2000:]
                    raise RuntimeError(f"{' '.join(command)} did not start: {log_text}") from None
                time.sleep(1)
        # Wait until the code location is loaded, then dismiss the first-visit pop-up the supported way.
        while "RepositoryLocation" not in json.dumps(graphql(url, "{ workspaceOrError { __typename ... on Workspace "
                                                               "{ locationEntries { locationOrLoadError { __typename } } } } }")):
            time.sleep(1)
        graphql(url, "mutation { setNuxSeen }")
        yield url
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        log.close()


@contextmanager
def browser(chromium: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


class Watch:
    """Everything a page did wrong: failed GraphQL calls, console errors, requests that leave the machine."""

    def __init__(self, page, origin: str):
        self.problems: list[str] = []
        page.on("response", lambda r: self.problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.on("console", lambda m: self.problems.append(f"console: {m.text[:200]}") if m.type == "error" else None)
        page.on("request", lambda r: None if r.url.startswith((origin, "blob:", "data:")) else
                self.problems.append(f"left the page: {r.url}"))


def open_page(chromium_browser, url: str, origin: str, width: int = 1400, height: int = 900):
    page = chromium_browser.new_page(viewport={"width": width, "height": height})
    watch = Watch(page, origin)
    page.goto(url)
    page.wait_for_load_state("networkidle")
    return page, watch


def no_error_toasts(page) -> None:
    assert page.locator(".bp5-toast.bp5-intent-danger, [class*='Toast'][class*='danger']").count() == 0
