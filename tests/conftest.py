"""Shared fixtures: a real moto server over HTTP on 127.0.0.1, and throwaway warehouses."""

from __future__ import annotations

import os
import socket
import urllib.request

import pytest

# Never let a test reach real AWS or a developer's credentials.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
)
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(scope="session")
def moto_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto(moto_server):
    """The moto server's URL, reset to empty for each test."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")).read()
    return moto_server


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "warehouse"
    path.mkdir()
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ACCOUNT = "123456789012"


@pytest.fixture(scope="session")
def athena_server(moto_server):
    from tests.athena_http import AthenaServer

    with AthenaServer(moto_server) as server:
        yield server


@pytest.fixture
def athena(athena_server):
    """The Athena test engine (tests/athena_server.py), its query log emptied for this test."""
    athena_server.twin.log.clear()
    athena_server.twin.delay_seconds = 0.0
    athena_server.twin.fail_after_files = None
    return athena_server


@pytest.fixture
def aws(moto, athena, monkeypatch):
    """A provisioned emulator and the aws profile pointed at it, on its default engine: Athena, answered by the
    test engine over HTTP (moto keeps Glue, S3 and the rest)."""
    from resources.profile import aws_names
    from resources.provision import provision

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto)
    monkeypatch.setenv("AWS_ENDPOINT_URL_ATHENA", athena.url)
    monkeypatch.delenv("CLICKSTREAM_ENGINE", raising=False)
    monkeypatch.setenv("CLICKSTREAM_AWS_ACCOUNT_ID", ACCOUNT)
    names = aws_names()
    provision(names, "us-east-1", moto, log=lambda _: None)
    return moto, names


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium (installed on first use where apt is at hand), for the UI and dashboard checks."""
    from tests.ui import find_chromium

    path = find_chromium()
    if not path:
        pytest.skip("no Chromium here and it cannot be installed (needs root and Debian's apt)")
    return path
