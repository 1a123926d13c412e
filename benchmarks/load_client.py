"""wrk, the load generator of the HTTP benchmarks (dashboard_load.py, api_load.py), as a function.

On a 2-core machine the load generator shares the CPUs with the server it measures. locust
(Python, even its FastHttpUser) spends about as much CPU per request as a stored answer costs
the server, so its figures are partly its own; wrk (C, one thread, epoll) spends a small part of
that and leaves the cores to gunicorn. Both keep N connections busy with no think time (a
closed loop), so requests per second and latency percentiles mean the same thing for both.
Debian packages it: `apt-get install -y wrk`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# What a browser sends: the server then answers with the same (compressed) copies it sends to
# browsers. wrk does not decompress; a real client does so on its own machine.
BROWSER_ACCEPT_ENCODING = "gzip, deflate, br"

# wrk prints its own summary; this line carries what the benchmarks read, in microseconds.
REPORT_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("LODESTONE %d %d %d %d %d %d %d\\n", summary.requests, e.status,
    e.connect + e.read + e.write + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def gunicorn_command(port: int, workers: int) -> list[str]:
    """The web process as production runs it (docs/operations.md), on 127.0.0.1:`port`, from the
    virtualenv of the interpreter running the benchmark."""
    return [
        str(Path(sys.executable).parent / "gunicorn"), "-c", "config/gunicorn.py", "config.wsgi",
        "-b", f"127.0.0.1:{port}", "-w", str(workers), "--log-level", "warning",
    ]  # fmt: skip


def wrk(url: str, *, headers: dict[str, str], users: int, seconds: int) -> dict[str, float]:
    """Requests, failures (status >= 400 and socket errors), requests/s and p50/p95/p99 in ms of
    `users` connections requesting `url` for `seconds`."""
    binary = shutil.which("wrk")
    if binary is None:
        sys.exit("wrk is not installed: apt-get install -y wrk (or pass --client locust)")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "report.lua"
        script.write_text(REPORT_LUA)
        command = [binary, "-t", "1", "-c", str(users), "-d", f"{seconds}s", "--timeout", "10s", "-s", str(script)]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        done = subprocess.run([*command, url], check=False, capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in done.stdout.splitlines() if x.startswith("LODESTONE ")), None)
    if line is None:
        sys.exit(f"wrk failed on {url}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    requests, status_errors, socket_errors, duration_us, p50, p95, p99 = map(int, line.split()[1:])
    return {
        "requests": float(requests),
        "failures": float(status_errors + socket_errors),
        "rps": requests / (duration_us / 1e6) if duration_us else 0.0,
        "p50": p50 / 1000,
        "p95": p95 / 1000,
        "p99": p99 / 1000,
    }
