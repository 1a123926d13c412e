"""The web process as production starts it: gunicorn with config/gunicorn.py (docs/operations.md)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_compose_starts_the_web_process_with_the_gunicorn_settings():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    command = compose["services"]["web"]["command"].split()
    assert command[:3] == ["gunicorn", "-c", "config/gunicorn.py"]


def test_a_worker_freezes_its_start_up_objects_and_then_serves(tmp_path: Path):
    """A full garbage collection took about 60 ms while it scanned the worker's modules and
    classes; gunicorn's post_worker_init hook moves them out of its reach once the views are
    imported, and the worker then answers as before."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "PYTEST_VERSION"}}
    env.update(DEBUG="true", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", LOG_LEVEL="WARNING")
    server = subprocess.Popen(
        [str(GUNICORN), "-c", "config/gunicorn.py", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        status = None
        deadline = time.monotonic() + 60
        while status is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/minerals/", timeout=10) as response:
                    status = response.status
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError:
                time.sleep(0.2)
        assert status == 401  # the API's views answered: no token
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        _, log = server.communicate(timeout=30)
    frozen = [line for line in log.splitlines() if "start-up objects out of the garbage collector" in line]
    assert len(frozen) == 1, log
    assert int(frozen[0].split("Froze ")[1].split()[0]) > 50_000  # modules, classes, functions
    assert "Exception in worker" not in log
