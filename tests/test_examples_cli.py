"""Every example as a user runs it: --port 0 --no-browser, its address
printed, a page served, then Ctrl-C or SIGTERM stops it without a traceback;
a busy port is one clear line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SIMPLE = [
    "intro",
    "static_content",
    "simple_task_list",
    "contacts_form",
    "guard",
    "jobs_demo",
    "wsgi_demo",
]


def start(name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    command = [sys.executable, str(ROOT / "examples" / f"{name}.py"), *args]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # SIGINT must reach Python's handler (a background shell job ignores it)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def served_url(process: subprocess.Popen) -> str:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Serving on "):
            return line.split()[2]
    raise AssertionError(f"no address printed: {process.stderr.read()}")  # type: ignore[union-attr]


@pytest.mark.parametrize("name", SIMPLE)
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_an_example_serves_and_stops_cleanly(name, stop, tmp_path):
    process = start(name, "--port", "0", "--no-browser", env={"TMPDIR": str(tmp_path)})
    try:
        url = served_url(process)
        with urllib.request.urlopen(url, timeout=10) as reply:
            assert reply.status == 200
        process.send_signal(stop)
        _, errors = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, errors
    assert "Traceback" not in errors, errors
    assert list(tmp_path.iterdir()) == []  # temporary folders removed


def test_a_busy_port_is_one_clear_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = start("intro", "--port", str(port), "--no-browser")
        _, errors = process.communicate(timeout=20)
    assert process.returncode == 1
    assert f"Port {port} is in use" in errors and "--port 0" in errors
    assert "Traceback" not in errors


def test_help_does_not_start_a_server():
    process = start("intro", "--help")
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0 and "--no-browser" in output
