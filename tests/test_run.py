"""`zaplecze run` as a new user meets it: first start creates the admin and the demo shop, serves the app
with gunicorn and the worker, and Ctrl-C (SIGINT to the process group) stops both."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 (loopback only)
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout}s")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


@pytest.mark.slow
def test_run_first_start_serves_app_and_worker_and_ctrl_c_stops_both(tmp_path):
    port = _free_port()
    env = dict(
        os.environ,
        ZAPLECZE_DATA_DIR=str(tmp_path),
        ZAPLECZE_DEMO_ORDERS="150",
        ZAPLECZE_ADMIN_PASSWORD="",
        ZAPLECZE_DATABASE_URL="",
        ZAPLECZE_REDIS_URL="",
        ZAPLECZE_QUEUE_IMMEDIATE="",
    )
    log = open(tmp_path / "run.log", "w+")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "zaplecze.cli", "run", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/healthz", timeout=150)
        log.flush()
        output = (tmp_path / "run.log").read_text()
        password = re.search(r"password: (\S+)", output).group(1)
        assert "login:    admin" in output
        assert (tmp_path / "secret_key").exists()

        # log in with the printed password and see the dashboard with demo orders
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login_url = f"http://127.0.0.1:{port}/login/"
        page = opener.open(login_url).read().decode()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode(
            {"username": "admin", "password": password, "csrfmiddlewaretoken": csrf}
        )
        req = urllib.request.Request(login_url, data=body.encode(), headers={"Referer": login_url})
        today = opener.open(req).read().decode()  # the login lands on Today, filled by the demo build
        assert 'class="card today-area"' in today
        dashboard = opener.open(f"http://127.0.0.1:{port}/dashboard/").read().decode()
        assert 'data-vega-spec="chart-daily"' in dashboard
        queue = opener.open(f"http://127.0.0.1:{port}/orders/").read().decode()
        assert queue.count("/orders/") > 20

        # the worker and gunicorn are both children in the group
        children = subprocess.run(
            ["pgrep", "-g", str(proc.pid), "-f", "zaplecze.cli"], capture_output=True, text=True
        ).stdout.split()
        assert len(children) >= 3  # run + worker + serve (gunicorn master re-execs under the same cmdline)
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        try:
            proc.wait(timeout=30)
        finally:
            deadline = time.monotonic() + 15
            while _group_alive(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            alive = _group_alive(proc.pid)
            if alive:
                os.killpg(proc.pid, signal.SIGKILL)
    assert not alive, "processes were left running after Ctrl-C"
