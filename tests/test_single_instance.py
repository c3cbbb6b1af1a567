"""One instance per app_id: the OS lock, held for the process's life, says
an instance runs, even one busy for 10 s; the probe only says where.

The busy case runs real processes (127.0.0.1, port 0, a fake browser, HOME
and XDG folders in tmp_path), each stopped through its own handle.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from kali import serve_http
from kali.desktop import InstanceBusy, InstanceLock
from kali.launch import claim_instance

ROOT = Path(__file__).resolve().parents[1]
PROCESS_SECONDS = 30.0
#: How long the first instance is kept busy by one request.
BUSY_SECONDS = 10

posix_only = pytest.mark.skipif(os.name != "posix", reason="a shell-script browser")

APP_SOURCE = f"""\
import logging, pathlib, sys, time
from kali import Response, serve_http
from kali.launch import claim_instance

logging.basicConfig(level=logging.INFO, format="%(message)s")
app_id, how, folder = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
if how == "claim":  # the lock first, then the database
    app_id = claim_instance(app_id)
with open(folder / "database.txt", "a") as database:  # stands for sqlite3.connect
    database.write("opened\\n")

def app(request):
    if request.url.path == "/quit":
        return Response("bye", shut_down=True)
    if request.url.path == "/busy":
        (folder / "busy").write_text("yes")
        time.sleep({BUSY_SECONDS})  # a long upload, a locked database...
        return "done"
    return "<html><body>hi</body></html>"

serve_http(app, port=0, app_id=app_id)
print("serve_http returned", flush=True)
"""


class Launcher:
    def __init__(self, tmp_path: Path) -> None:
        self.folder = tmp_path
        self.script = tmp_path / "app.py"
        self.script.write_text(APP_SOURCE, encoding="utf-8")
        self.record = tmp_path / "opened.txt"
        browser = tmp_path / "fake-browser"
        browser.write_text(f'#!/bin/sh\necho "$1" >> "{self.record}"\n')
        browser.chmod(0o755)
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("XDG_", "KALI_")) and key != "DISPLAY"
        }
        for name in ("home", "data", "run"):
            (tmp_path / name).mkdir(mode=0o700)
        self.env.update(
            HOME=str(tmp_path / "home"),
            XDG_DATA_HOME=str(tmp_path / "data"),
            XDG_RUNTIME_DIR=str(tmp_path / "run"),
            BROWSER=str(browser),
            PYTHONPATH=str(ROOT),
            PYTHONDONTWRITEBYTECODE="1",
        )
        self.children: list[subprocess.Popen[str]] = []

    def start(self, how: str) -> subprocess.Popen[str]:
        command = [sys.executable, str(self.script), "kali-busy-test", how]
        child = subprocess.Popen(
            [*command, str(self.folder)],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.children.append(child)
        return child

    def urls(self, count: int) -> list[str]:
        deadline = time.monotonic() + PROCESS_SECONDS
        while time.monotonic() < deadline:
            if self.record.exists():
                lines = self.record.read_text().split()
                if len(lines) >= count:
                    return lines
            time.sleep(0.05)
        raise AssertionError(f"the browser was not opened {count} times")

    def finish(self, child: subprocess.Popen[str]) -> tuple[int, str, str]:
        out, err = child.communicate(timeout=PROCESS_SECONDS)
        return child.returncode, out, err

    def close(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.kill()
            child.communicate(timeout=PROCESS_SECONDS)


@pytest.fixture
def launcher(tmp_path):
    runner = Launcher(tmp_path)
    yield runner
    runner.close()


def get(url: str, timeout: float = 5) -> int:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=timeout)
    try:
        connection.request("GET", parts.path or "/")
        answer = connection.getresponse()
        answer.read()
        return answer.status
    finally:
        connection.close()


@posix_only
@pytest.mark.parametrize("how", ["claim", "serve_http"])
def test_a_busy_instance_is_found_and_no_second_one_starts(launcher, how):
    first = launcher.start(how)
    [url] = launcher.urls(1)
    busy = threading.Thread(
        target=get, args=(url + "busy", BUSY_SECONDS + PROCESS_SECONDS), daemon=True
    )
    busy.start()
    deadline = time.monotonic() + PROCESS_SECONDS
    while not (launcher.folder / "busy").exists():
        assert time.monotonic() < deadline, "the first instance never got busy"
        time.sleep(0.05)

    second = launcher.start(how)
    code, out, err = launcher.finish(second)
    assert code == 0, err
    assert "already running" in err and "Listening on" not in err
    assert launcher.urls(2) == [url, url]  # sent to the running one
    if how == "claim":  # it never got as far as the database
        database = (launcher.folder / "database.txt").read_text()
        assert database == "opened\n"
    busy.join(PROCESS_SECONDS)
    assert get(url + "quit") == 200
    assert launcher.finish(first)[0] == 0


# -- in process -------------------------------------------------------------------


@pytest.fixture
def user_dirs(tmp_path, monkeypatch):
    for name in ("XDG_RUNTIME_DIR", "XDG_DATA_HOME", "HOME", "APPDATA"):
        folder = tmp_path / name.lower()
        folder.mkdir(mode=0o700)
        monkeypatch.setenv(name, str(folder))


def test_the_lock_is_held_until_released(user_dirs):
    first = InstanceLock("notes")
    assert first.claim() and first.claim()  # taking it twice is fine
    assert not InstanceLock("notes").claim()
    assert (first.folder / "instance.lock").exists()
    first.release()
    again = InstanceLock("notes")
    assert again.claim()
    again.release()


def test_serve_http_does_not_serve_when_the_holder_does_not_answer(user_dirs, caplog):
    holder = InstanceLock("notes")
    assert holder.claim()  # running, but no record yet (or too busy to answer)
    ready = []
    serve_http(
        lambda request: "x",
        port=0,
        start=None,
        app_id=InstanceLock("notes", wait_seconds=0.3),
        on_ready=ready.append,
    )
    assert ready == []  # never bound, never served
    assert "did not answer" in caplog.text
    holder.release()


def test_claim_instance_returns_the_held_lock_or_exits(user_dirs):
    instance = claim_instance("notes")
    assert instance.is_held
    with pytest.raises(SystemExit) as stopped:
        claim_instance(InstanceLock("notes", wait_seconds=0.3), start=None)
    assert stopped.value.code == 1
    instance.release()


def test_a_claimed_lock_outlives_serve_http(user_dirs):
    instance = claim_instance("notes")
    served = []

    def stop_at_once(server):
        served.append(server.port)
        server.stop()

    serve_http(
        lambda request: "x", port=0, start=None, app_id=instance, on_ready=stop_at_once
    )
    assert served and not instance.path.exists()  # the record is gone...
    assert instance.is_held and not InstanceLock("notes").claim()  # ...not the lock
    instance.release()


def test_serve_http_releases_a_lock_it_took(user_dirs):
    serve_http(
        lambda request: "x",
        port=0,
        start=None,
        app_id="notes",
        on_ready=lambda server: server.stop(),
    )
    other = InstanceLock("notes")
    assert other.claim()
    other.release()


def test_a_busy_holder_raises_instance_busy_from_the_lock_api(user_dirs):
    holder = InstanceLock("notes")
    holder.claim()
    with pytest.raises(InstanceBusy):
        InstanceLock("notes", wait_seconds=0.2).running_launch_url()
    holder.release()
