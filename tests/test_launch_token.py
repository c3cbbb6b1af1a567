"""The launch token (``token=True``) in real processes: the secret is never on
the browser's command line nor in the log, the browser gets a private launch
file with a one-time code, the cookie is worth nothing to another server,
and a second launch's liveness probe sends no secret.

Apps run as child processes on 127.0.0.1 port 0, with HOME and the XDG
folders in tmp_path and a fake browser (a shell script recording what it is
asked to open). Each child is stopped through its own handle.
"""

from __future__ import annotations

import html
import http.client
import json
import os
import re
import stat
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from kali import Response
from kali.desktop import InstanceBusy, InstanceLock, LaunchPolicy, _proof
from kali.security import SecurityPolicy

ROOT = Path(__file__).resolve().parents[1]
PROCESS_SECONDS = 20.0

posix_only = pytest.mark.skipif(os.name != "posix", reason="a shell-script browser")

APP_SOURCE = """\
import logging, sys
from kali import Response, serve_http

logging.basicConfig(level=logging.INFO, format="%(message)s")

def app(request):
    if request.url.path == "/quit":
        return Response("bye", shut_down=True)
    return "<html><body>hello</body></html>"

token = sys.argv[1]
app_id = sys.argv[2] if len(sys.argv) > 2 else None
serve_http(app, port=0, token=True if token == "random" else token, app_id=app_id)
print("serve_http returned", flush=True)
"""


class Launcher:
    """Children running APP_SOURCE; ``opened()`` lists what the fake browser
    was given, one command-line argument a line."""

    def __init__(self, tmp_path: Path) -> None:
        self.script = tmp_path / "app.py"
        self.script.write_text(APP_SOURCE, encoding="utf-8")
        self.record = tmp_path / "opened.txt"
        browser = tmp_path / "fake-browser"
        browser.write_text(f'#!/bin/sh\necho "$@" >> "{self.record}"\n')
        browser.chmod(0o755)
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("XDG_", "KALI_")) and key != "DISPLAY"
        }
        for name in ("home", "data", "run", "tmp"):
            (tmp_path / name).mkdir(mode=0o700)
        self.temporary = tmp_path / "tmp"
        self.env.update(
            HOME=str(tmp_path / "home"),
            XDG_DATA_HOME=str(tmp_path / "data"),
            XDG_RUNTIME_DIR=str(tmp_path / "run"),
            TMPDIR=str(self.temporary),
            BROWSER=str(browser),
            PYTHONPATH=str(ROOT),
            PYTHONDONTWRITEBYTECODE="1",
        )
        self.children: list[subprocess.Popen[str]] = []

    def start(self, *args: str) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            [sys.executable, str(self.script), *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.children.append(child)
        return child

    def opened(self, count: int) -> list[str]:
        deadline = time.monotonic() + PROCESS_SECONDS
        while time.monotonic() < deadline:
            if self.record.exists():
                lines = self.record.read_text().splitlines()
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


def request(port, target, cookie=None):
    """``(status, headers, body)`` of a GET on 127.0.0.1:``port``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", target, headers={"Cookie": cookie} if cookie else {})
        answer = connection.getresponse()
        return answer.status, answer.headers, answer.read().decode()
    finally:
        connection.close()


def launch_file_target(file_url: str) -> tuple[Path, str]:
    """The launch file a ``file:`` URL names, and the URL it sends to."""
    assert file_url.startswith("file:")
    path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(file_url).path))
    match = re.search(r'content="0;url=([^"]+)"', path.read_text(encoding="utf-8"))
    assert match is not None
    return path, html.unescape(match.group(1))


def exchange(url: str) -> tuple[int, str, str]:
    """GET the launch URL ``url``: (port, cookie "name=value", path and query)."""
    parts = urllib.parse.urlsplit(url)
    status, headers, body = request(parts.port, f"{parts.path}?{parts.query}")
    assert status == 200 and "location.replace" in body
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    return parts.port, cookie.split(";")[0], f"{parts.path}?{parts.query}"


@posix_only
def test_the_browser_gets_a_private_file_and_the_log_no_secret(launcher):
    child = launcher.start("random")
    [argument] = launcher.opened(1)
    assert argument.startswith("file:") and "token" not in argument
    path, url = launch_file_target(argument)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.parent.parent == launcher.temporary  # a private temp folder
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["kali-token"][0]

    port, cookie, target = exchange(url)
    assert request(port, "/", cookie)[0] == 200
    assert request(port, "/")[0] == 403
    assert request(port, target)[0] == 403  # the code works once
    assert request(port, "/quit", cookie)[0] == 200
    returncode, out, err = launcher.finish(child)
    assert returncode == 0 and "serve_http returned" in out
    assert f"Opening http://127.0.0.1:{port}/?kali-token=REDACTED" in err
    assert code not in err and cookie.split("=")[1] not in err
    assert not path.parent.exists()  # removed at exit


@posix_only
def test_a_second_launch_opens_the_app_with_a_fresh_code(launcher, tmp_path):
    first = launcher.start("random", "kali-launch-test")
    [first_file] = launcher.opened(1)
    _path, first_url = launch_file_target(first_file)
    second = launcher.start("random", "kali-launch-test")
    code, _out, err = launcher.finish(second)
    assert code == 0 and "already running" in err and "Listening" not in err
    second_file = launcher.opened(2)[1]
    assert "token" not in second_file
    path, second_url = launch_file_target(second_file)
    assert path.parent == tmp_path / "run" / "kali" / "kali-launch-test"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert second_url != first_url
    secret_code = urllib.parse.parse_qs(urllib.parse.urlsplit(second_url).query)
    assert secret_code["kali-token"][0] not in err
    port, cookie, _target = exchange(second_url)
    assert request(port, "/quit", cookie)[0] == 200
    assert launcher.finish(first)[0] == 0
    assert not path.exists()  # the instance removed the launch file it was left


@posix_only
def test_a_stolen_cookie_is_worth_nothing_to_another_server(launcher):
    # Two apps with the same fixed token: A's cookie is A's alone.
    first = launcher.start("fixed-secret-123")
    second = launcher.start("fixed-secret-123")
    urls = [launch_file_target(line)[1] for line in launcher.opened(2)]
    (port_a, cookie_a, _), (port_b, cookie_b, _) = map(exchange, urls)
    value_a = cookie_a.split("=", 1)[1]
    assert value_a != "fixed-secret-123" and "fixed-secret-123" not in cookie_a
    assert request(port_a, "/", cookie_a)[0] == 200
    # Chromium sends kali-token-A to server B (cookies ignore ports); B could
    # also try it under its own name.
    assert request(port_b, "/", cookie_a)[0] == 403
    assert request(port_b, "/", f"kali-token-{port_b}={value_a}")[0] == 403
    assert request(port_b, "/", cookie_b)[0] == 200
    assert request(port_a, "/quit", cookie_a)[0] == 200
    assert request(port_b, "/quit", cookie_b)[0] == 200
    assert launcher.finish(first)[0] == 0 and launcher.finish(second)[0] == 0


@posix_only
def test_a_cookie_from_an_earlier_run_is_worth_nothing(launcher):
    first = launcher.start("fixed-secret-123", "kali-launch-test")
    port, cookie, _ = exchange(launch_file_target(launcher.opened(1)[0])[1])
    assert request(port, "/quit", cookie)[0] == 200
    assert launcher.finish(first)[0] == 0
    again = launcher.start("fixed-secret-123", "kali-launch-test")
    new_port, new_cookie, _ = exchange(launch_file_target(launcher.opened(2)[1])[1])
    old_value = cookie.split("=", 1)[1]
    assert request(new_port, "/", f"kali-token-{new_port}={old_value}")[0] == 403
    assert request(new_port, "/quit", new_cookie)[0] == 200
    assert launcher.finish(again)[0] == 0


# -- the liveness probe, against an impostor on a stale record's port ----------


@pytest.fixture
def user_dirs(tmp_path, monkeypatch):
    for name in ("XDG_RUNTIME_DIR", "XDG_DATA_HOME", "HOME", "APPDATA"):
        folder = tmp_path / name.lower()
        folder.mkdir(mode=0o700)
        monkeypatch.setenv(name, str(folder))


def test_the_probe_sends_no_secret_to_whoever_has_the_port(user_dirs, kali_server):
    seen = []

    def impostor(request):
        seen.append((request.command, request.uri, dict(request.headers)))
        return Response.plain_text("0" * 64)

    other = kali_server(impostor)
    holder = InstanceLock("notes")
    assert holder.claim()  # the running instance, not answering on that port
    stale = {
        "kali_instance": 1,
        "pid": 1,
        "scheme": "http",
        "host": "127.0.0.1",
        "port": other.port,
        "secret": "1" * 64,
        "launch_key": "2" * 64,
        "url": other.url,
    }
    holder.path.write_text(json.dumps(stale), encoding="utf-8")
    second = InstanceLock("notes", wait_seconds=0.5)
    with pytest.raises(InstanceBusy):
        second.running_launch_url()
    assert seen, "the probe was not sent"
    for _method, uri, headers in seen:
        assert uri.startswith("/__kali__/instance?nonce=")
        assert "cookie" not in headers and "token" not in uri
    holder.release()


def test_the_probe_needs_no_token_and_proves_the_port(user_dirs, kali_server):
    server = kali_server(lambda request: "<p>app</p>", token=True)
    first = InstanceLock("notes")
    first.acquire(server)
    assert isinstance(server.policy, LaunchPolicy)
    record = first.read_record()
    assert second_lock().is_alive(record)
    assert not second_lock().is_alive({**record, "secret": "3" * 64})
    # The answer proves the port too: relayed from another port, it fails.
    nonce = "a" * 32
    status, _headers, body = request(server.port, "/__kali__/instance?nonce=" + nonce)
    assert status == 200 and body.strip() == _proof(first.secret, nonce, server.port)
    assert body.strip() != _proof(first.secret, nonce, server.port + 1)
    assert request(server.port, "/")[0] == 403  # the app itself needs the token
    first.release()


def second_lock():
    return InstanceLock("notes", wait_seconds=1.0)


def test_the_policy_keeps_the_checks_it_extends():
    policy = LaunchPolicy.from_policy(
        SecurityPolicy.for_server("127.0.0.1", 8080, token="s3cret")
    )
    good_host = [("host", "127.0.0.1:8080")]
    assert policy.check("GET", "/", [("host", "evil.example")]).code == 403
    refused = policy.check(
        "POST", "/__kali__/instance?nonce=x", good_host + [("origin", "http://e.x")]
    )
    assert refused.code == 403
    assert policy.check("GET", "/__kali__/instance?nonce=x", good_host) is None
    assert policy.check("GET", "/?kali-token=s3cret", good_host).code == 200
    assert policy.check("GET", "/?kali-token=" + "0" * 64, good_host).code == 403
    code = policy.launch_target("/a").split("kali-token=")[1]
    assert policy.check("POST", f"/a?kali-token={code}", good_host).code == 403
    entry = policy.check("GET", f"/a</script>?b=1&kali-token={code}", good_host)
    page = entry.body.decode()
    assert entry.code == 200 and "no-store" in entry.get_header("cache-control")
    assert 'location.replace("/a\\u003c/script>?b=1")' in page
    assert 'href="/a&lt;/script&gt;?b=1"' in page and code not in page
    assert policy.check("GET", f"/a</script>?kali-token={code}", good_host).code == 403
    cookie = [("cookie", f"x=1; {policy.cookie_name}={policy.cookie_value}")]
    assert policy.check("GET", "/", good_host + cookie) is None
    assert policy.cookie_value != "s3cret"
