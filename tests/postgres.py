"""A real PostgreSQL server for the tests: Debian's binaries, a throwaway cluster on 127.0.0.1 on a free port.

Production keeps Dagster's runs, events and schedules in Postgres (RDS), so the tests run the pipeline on the same
database engine rather than on SQLite alone. The server is installed from Debian's packages when missing (root and
apt-get), runs as a non-root user (Postgres refuses root), and is stopped and deleted at the end.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SERVER_USER = "postgres"  # Debian's package creates it; the cluster runs as this user when we are root


def _server_bin() -> Path | None:
    """Debian keeps the server binaries off PATH, under /usr/lib/postgresql/<major>/bin."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(candidates[-1]).parent if candidates else None


def find_postgres(install: bool = True) -> tuple[Path | None, str]:
    """The directory of ``initdb``/``pg_ctl``, installing Debian's ``postgresql`` when missing and we may; else
    None and the reason."""
    found = _server_bin()
    if found or not install:
        return found, "" if found else "no PostgreSQL server binaries (pg_ctl) here"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "no PostgreSQL server here and it cannot be installed (needs root and Debian's apt-get)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
    done = subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], env=env, capture_output=True,
                          text=True, timeout=900)
    found = _server_bin()
    return found, "" if found else f"apt-get install postgresql failed: {done.stderr.strip()[-300:]}"


@dataclass
class PostgresServer:
    host: str
    port: int
    user: str
    password: str

    def create_database(self, name: str) -> str:
        import psycopg2

        connection = psycopg2.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                                      dbname="postgres")
        connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')  # name is ours (a fixed test identifier), not input
        connection.close()
        return name

    def url(self, database: str) -> str:
        """The database's SQLAlchemy URL, with the driver dagster-postgres installs (psycopg2)."""
        return f"postgresql+psycopg2://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def env(self, database: str) -> dict[str, str]:
        """The variables deploy/dagster.yaml reads, as the ECS task definitions set them."""
        return {"DAGSTER_PG_HOST": self.host, "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_USER": self.user,
                "DAGSTER_PG_PASSWORD": self.password, "DAGSTER_PG_DB": database, "DAGSTER_PG_SSLMODE": "disable"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server(bin_dir: Path) -> Iterator[PostgresServer]:
    """initdb a cluster in a temporary directory, start it on 127.0.0.1 with password authentication, stop it."""
    as_root = os.geteuid() == 0
    if as_root:
        try:
            owner = pwd.getpwnam(SERVER_USER)
        except KeyError as missing:
            raise RuntimeError(f"running as root and there is no {SERVER_USER!r} user to run the server") from missing
    run_as = ["runuser", "-u", SERVER_USER, "--"] if as_root else []
    root = Path(tempfile.mkdtemp(prefix="clickstream-pg-"))
    data, password = root / "data", secrets.token_hex(16)
    (root / "pwfile").write_text(password + "\n")
    if as_root:
        for path in (root, root / "pwfile"):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    port = _free_port()

    def run(*args: str) -> None:
        done = subprocess.run([*run_as, *args], capture_output=True, text=True, timeout=120)
        if done.returncode:
            log = (root / "server.log").read_text()[-2000:] if (root / "server.log").exists() else ""
            raise RuntimeError(f"{args[0]} failed: {done.stdout[-1000:]}{done.stderr[-1000:]}{log}")

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "dagster", f"--pwfile={root / 'pwfile'}",
            "--auth=scram-sha-256", "-E", "UTF8", "--no-sync")
        # fsync off: a throwaway test cluster; unix socket in our directory, TCP on loopback only.
        options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=60"
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "60",
            "-o", options, "start")
        try:
            yield PostgresServer(host="127.0.0.1", port=port, user="dagster", password=password)
        finally:
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)
