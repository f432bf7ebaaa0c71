"""`pip install .` (not editable) is a whole product: SQL, the dashboard definition and the CLI ship in the wheel.

The wheel is built from the checkout and installed into a fresh venv outside the repository. Its dependencies
come from this test venv's site-packages (on the path, not re-downloaded), but the project's own code can only
come from the wheel: the demo then runs from a folder that has no sql/ beside it.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent


def test_the_wheel_installed_outside_the_repo_runs_the_demo(tmp_path):
    # Built from a copy of the tracked files: an in-tree build/ folder would carry modules deleted since.
    source = tmp_path / "source"
    tracked = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(wheels), str(source)], check=True, timeout=300)
    (wheel,) = wheels.glob("clickstream_assets-*.whl")

    target = tmp_path / "venv"
    venv.create(target, with_pip=True)
    python = target / "bin" / "python"
    libs = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # Dependencies from the test venv; a path in a .pth does not run that folder's own .pth files, so the
    # test venv's editable install of this repository is not seen.
    Path(libs, "test-venv-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "-q", "--disable-pip-version-check",
                    str(wheel)], check=True, timeout=300)

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DAGSTER_HOME", "CLICKSTREAM_START_DATE")}
    env["CLICKSTREAM_HOME"] = str(outside / "warehouse")
    where = subprocess.run([str(python), "-c", "import clickstream_assets, resources.sql as c; "
                            "print(clickstream_assets.__file__); print(c.SQL_ROOT)"],
                           cwd=outside, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert all(str(target) in line and str(REPO) not in line for line in where), where

    demo = subprocess.run([str(target / "bin" / "clickstream"), "demo", "--days", "2", "--events-per-day", "3000"],
                          cwd=outside, env=env, capture_output=True, text=True, timeout=600)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert "dashboard:" in demo.stdout
    warehouse = outside / "warehouse"
    sessions = sum(pq.read_table(p).num_rows for p in (warehouse / "processed" / "sessions").rglob("*.parquet"))
    assert sessions > 500
    html = (warehouse / "dashboard" / "index.html").read_text()
    assert 'data-kpi="sessions"' in html
