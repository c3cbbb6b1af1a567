"""kali.desktop and kali.pagewatch: data folder, one instance, quit on close.

In-process tests drive the pieces (a fake clock for the page watcher, real
servers on 127.0.0.1 port 0 for the instance probe); the launch tests run
real apps as child processes, with HOME and the XDG folders in tmp_path and a
fake browser (a shell script recording the URLs it is asked to open).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import webbrowser
from contextlib import closing
from pathlib import Path

import pytest

import kali.pagewatch as pagewatch
from examples import load_example
from kali import HTTPError, Response, serve_http
from kali.desktop import (
    InstanceBusy,
    InstanceLock,
    check_app_name,
    data_folder,
    runtime_folder,
)
from kali.pagewatch import PAGE_SCRIPT_TAG, PageWatcher, add_page_script
from kali.testing import Client

ROOT = Path(__file__).resolve().parents[1]
PAGE = "<!DOCTYPE html><html><head><title>t</title></head><body><p>hi</p></body></html>"
#: Bounds for everything that waits on a child process or a server thread.
PROCESS_SECONDS = 20.0

posix_only = pytest.mark.skipif(os.name != "posix", reason="a shell-script browser")


@pytest.fixture
def user_dirs(tmp_path, monkeypatch):
    """HOME, XDG_DATA_HOME, XDG_RUNTIME_DIR and APPDATA under tmp_path."""
    dirs = {
        "HOME": tmp_path / "home",
        "XDG_DATA_HOME": tmp_path / "data",
        "XDG_RUNTIME_DIR": tmp_path / "run",
        "APPDATA": tmp_path / "appdata",
    }
    for name, folder in dirs.items():
        folder.mkdir(mode=0o700)
        monkeypatch.setenv(name, str(folder))
    return dirs


# -- data_folder -----------------------------------------------------------------------


def test_data_folder_on_linux_honours_xdg_data_home(user_dirs, monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    folder = data_folder("notes")
    assert folder == user_dirs["XDG_DATA_HOME"] / "notes"
    assert folder.is_dir()
    if os.name == "posix":
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.parametrize("value", [None, "", "relative/data"])
def test_data_folder_on_linux_defaults_to_local_share(user_dirs, monkeypatch, value):
    monkeypatch.setattr(sys, "platform", "linux")
    if value is None:
        monkeypatch.delenv("XDG_DATA_HOME")
    else:
        monkeypatch.setenv("XDG_DATA_HOME", value)
    expected = user_dirs["HOME"] / ".local" / "share" / "My Notes"
    assert data_folder("My Notes") == expected
    assert expected.is_dir()


def test_data_folder_on_macos(user_dirs, monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    expected = user_dirs["HOME"] / "Library" / "Application Support" / "org.kali.x"
    assert data_folder("org.kali.x") == expected
    assert expected.is_dir()


def test_data_folder_on_windows(user_dirs, monkeypatch):
    monkeypatch.setattr(sys, "platform", "win32")
    assert data_folder("notes") == user_dirs["APPDATA"] / "notes"
    monkeypatch.delenv("APPDATA")
    fallback = data_folder("notes", create=False)
    assert fallback == Path.home() / "AppData" / "Roaming" / "notes"
    assert not fallback.exists()


def test_data_folder_create_false_only_names_it(user_dirs):
    folder = data_folder("later", create=False)
    assert folder.name == "later" and not folder.exists()


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", "a/b", "a\\b", "../x", "x/..", "a:b", "a*", " a", "a.", "a\0b"]
    + ["con", "NUL.txt", "com1", "tab\there", 42],
)
def test_app_names_that_are_not_plain_folder_names_are_refused(user_dirs, name):
    with pytest.raises(ValueError):
        data_folder(name)
    with pytest.raises(ValueError):
        InstanceLock(name)


@pytest.mark.parametrize(
    "name", ["notes", "My Notes", "org.example.notes", "Zoë", "a-b_c"]
)
def test_plain_app_names_are_accepted(name):
    assert check_app_name(name) == name


def test_runtime_folder_is_under_xdg_runtime_dir(user_dirs):
    folder = runtime_folder("notes")
    assert folder == user_dirs["XDG_RUNTIME_DIR"] / "kali" / "notes"
    if os.name == "posix":
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize("value", [None, "relative", "/does/not/exist"])
def test_runtime_folder_falls_back_to_the_data_folder(user_dirs, monkeypatch, value):
    if value is None:
        monkeypatch.delenv("XDG_RUNTIME_DIR")
    else:
        monkeypatch.setenv("XDG_RUNTIME_DIR", value)
    assert runtime_folder("notes") == data_folder("notes", create=False)


# -- the instance lock, in process -----------------------------------------------------


def page_app(request):
    return PAGE


def free_port():
    """A loopback port nobody listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_record(lock, **fields):
    record = {
        "kali_instance": 1,
        "app_id": lock.app_id,
        "pid": 1,
        "scheme": "http",
        "host": "127.0.0.1",
        "port": free_port(),
        "secret": "0" * 64,
        "token": None,
        "url": "http://127.0.0.1:1/",
    }
    record.update(fields)
    lock.path.write_text(json.dumps(record), encoding="utf-8")
    return record


def test_no_record_means_nothing_runs(user_dirs):
    lock = InstanceLock("notes")
    assert lock.running_launch_url() is None
    lock.release()
    assert not lock.path.exists()


def test_a_live_instance_is_found_with_its_url(user_dirs, kali_server):
    first = InstanceLock("notes")
    assert first.running_launch_url() is None
    server = kali_server(page_app)
    first.acquire(server)
    if os.name == "posix":
        assert stat.S_IMODE(first.path.stat().st_mode) == 0o600
    record = json.loads(first.path.read_text(encoding="utf-8"))
    assert record["port"] == server.port and record["pid"] == os.getpid()
    assert record["secret"] == first.secret and record["url"] == server.url

    second = InstanceLock("notes")
    assert second.running_launch_url("/notes/?a=1") == f"{server.url}notes/?a=1"
    assert second.running_launch_url() == server.url
    second.release()
    assert first.path.exists()  # not the second's to remove
    first.release()
    assert not first.path.exists()
    assert InstanceLock("notes").running_launch_url() is None


def test_a_second_launch_gets_a_one_time_code_not_the_secret(user_dirs, kali_server):
    first = InstanceLock("notes")
    first.running_launch_url()
    server = kali_server(page_app, token=True)
    first.acquire(server)
    secret = server.policy.secret
    second = InstanceLock("notes")
    url = second.running_launch_url("/x")
    assert url.startswith(f"{server.url}x?kali-token=") and secret not in url
    assert secret not in first.path.read_text(encoding="utf-8")
    parts = urllib.parse.urlsplit(url)
    target = f"{parts.path}?{parts.query}"
    status, _body = raw_get(server.port, target)
    assert status == 200  # the entry page, which sets the cookie
    assert raw_get(server.port, target)[0] == 403  # used once: worth nothing now
    second.release()
    first.release()


def test_a_record_left_by_a_crash_is_stale_and_replaced(user_dirs, kali_server):
    lock = InstanceLock("notes")
    lock.folder  # noqa: B018 - creates it
    write_record(lock)  # nobody listens at its port
    assert lock.running_launch_url() is None
    server = kali_server(page_app)
    lock.acquire(server)
    record = lock.read_record()
    assert record["port"] == server.port and record["secret"] == lock.secret
    lock.release()


def test_another_program_on_the_recorded_port_is_not_kali(user_dirs, kali_server):
    impostor = kali_server(lambda request: Response.plain_text("0" * 64))
    holder = InstanceLock("notes")
    assert holder.claim()  # running (or starting), its record not written yet
    lock = InstanceLock("notes", wait_seconds=0.5)
    write_record(lock, port=impostor.port)
    with pytest.raises(InstanceBusy):
        lock.running_launch_url()
    lock.release()
    holder.release()


def test_a_kali_instance_with_another_secret_is_not_this_one(user_dirs, kali_server):
    other = InstanceLock("other", folder=user_dirs["XDG_RUNTIME_DIR"] / "x")
    server = kali_server(page_app)
    other.acquire(server)
    holder = InstanceLock("notes")
    assert holder.claim()
    lock = InstanceLock("notes", wait_seconds=0.5)
    write_record(lock, port=server.port)  # right port, wrong secret
    with pytest.raises(InstanceBusy):
        lock.running_launch_url()
    lock.release()
    holder.release()
    other.release()


def test_with_the_lock_free_a_record_is_stale_without_asking(user_dirs, kali_server):
    seen = []
    impostor = kali_server(lambda request: seen.append(request.url.path) or "x")
    lock = InstanceLock("notes")
    lock.folder  # noqa: B018
    write_record(lock, port=impostor.port)
    assert lock.running_launch_url() is None and lock.is_held
    assert seen == []
    lock.release()


@pytest.mark.parametrize(
    "content",
    ["", "{", "[]", '{"kali_instance": 1}', '{"kali_instance": 2, "port": 1}'],
)
def test_malformed_records_are_stale(user_dirs, content):
    lock = InstanceLock("notes")
    lock.path.write_text(content, encoding="utf-8")
    assert lock.read_record() is None
    assert lock.running_launch_url() is None
    lock.release()


def test_release_keeps_a_record_that_is_no_longer_ours(user_dirs, kali_server):
    lock = InstanceLock("notes")
    lock.acquire(kali_server(page_app))
    write_record(lock)
    lock.release()
    assert lock.path.exists()


def test_simultaneous_launches_wait_for_each_other(user_dirs, kali_server):
    first = InstanceLock("notes")
    assert first.running_launch_url() is None  # holds the lock
    found = []
    second = InstanceLock("notes")
    waiter = threading.Thread(target=lambda: found.append(second.running_launch_url()))
    waiter.start()
    time.sleep(0.3)
    assert waiter.is_alive() and not found  # waits for the first to be ready
    server = kali_server(page_app)
    first.acquire(server)
    waiter.join(PROCESS_SECONDS)
    assert found == [server.url]
    first.release()


def test_a_launch_gives_up_waiting_for_a_stuck_one_but_does_not_serve(user_dirs):
    first = InstanceLock("notes")
    first.running_launch_url()
    second = InstanceLock("notes", wait_seconds=0.2)
    with pytest.raises(InstanceBusy, match="did not answer"):
        second.running_launch_url()
    assert not second.is_held
    first.release()
    assert second.running_launch_url() is None  # now it may
    second.release()


def test_the_probe_endpoint_answers_only_a_proper_nonce(user_dirs):
    lock = InstanceLock("notes")
    client = Client(lock.wrap(page_app))
    assert client.get("/").text == PAGE
    assert client.get("/__kali__/instance").status == 400
    assert client.get("/__kali__/instance?nonce=short").status == 400
    assert client.post("/__kali__/instance?nonce=" + "a" * 32).status == 400
    answer = client.get("/__kali__/instance?nonce=" + "a" * 32)
    assert answer.status == 200 and re.fullmatch("[0-9a-f]{64}", answer.text)
    assert lock.secret not in answer.text
    assert answer.headers["cache-control"] == "no-store"


# -- the page watcher, with a fake clock -----------------------------------------------


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def advance(watcher, clock, seconds, step=1.0):
    """Let ``seconds`` pass on a free loop, its ticker checking every
    ``step``; whether the watcher is idle at the end."""
    end = clock.now + seconds
    while clock.now + step < end:
        clock.now += step
        watcher.is_idle()
    clock.now = end
    return watcher.is_idle()


def watched(app=page_app, grace=10.0, timeout=60.0):
    clock = Clock()
    watcher = PageWatcher(grace, page_timeout_seconds=timeout, clock=clock)
    return watcher, clock, Client(watcher.wrap(app))


def ping(client, page="page1", what="alive"):
    answer = client.post(
        f"/__kali__/{what}", body=page.encode(), content_type="text/plain"
    )
    assert answer.status == 204
    return answer


def test_pages_get_the_script_before_the_end_of_body():
    _watcher, _clock, client = watched()
    page = client.get("/")
    assert page.text == PAGE.replace("</body>", PAGE_SCRIPT_TAG + "</body>")
    assert page.headers["content-length"] == str(len(page.body))
    assert client.head("/").headers["content-length"] == str(len(page.body))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<p>x</p></BODY ></html>", "<p>x</p>TAG</BODY ></html>"),
        ("<p>no body tag</p>", "<p>no body tag</p>TAG"),
        ("<body>a</body><!-- </body> -->", "<body>a</body><!-- TAG</body> -->"),
        ("<p>has it</p>TAG</body>", "<p>has it</p>TAG</body>"),
        ("", "TAG"),
    ],
)
def test_where_the_script_goes(body, expected):
    result = add_page_script(Response(body.replace("TAG", PAGE_SCRIPT_TAG)))
    assert result.body.decode() == expected.replace("TAG", PAGE_SCRIPT_TAG)


@pytest.mark.parametrize(
    "response",
    [
        lambda: Response.plain_text("<body></body>"),
        lambda: Response.json({"a": "</body>"}),
        lambda: Response.redirect("/"),
        lambda: Response("", code=204),
        lambda: Response("<body></body>", code=206, headers={"content-range": "x"}),
        lambda: Response("<body></body>", headers={"content-encoding": "gzip"}),
        lambda: Response.stream(["<body>", "</body>"]),
    ],
    ids=["text", "json", "redirect", "204", "206", "gzip", "stream"],
)
def test_other_responses_are_left_alone(response):
    original = response()
    assert add_page_script(original) is original


@pytest.mark.parametrize(
    ("destination", "injected"),
    [(None, True), ("document", True), ("iframe", True), ("empty", False)]
    + [("script", False), ("image", False)],
)
def test_only_navigations_get_the_script(destination, injected):
    _watcher, _clock, client = watched()
    headers = {} if destination is None else {"Sec-Fetch-Dest": destination}
    page = client.get("/", headers=headers)
    assert (PAGE_SCRIPT_TAG in page.text) is injected


def test_error_pages_from_the_app_get_the_script():
    result = add_page_script(Response("<body>gone</body>", code=404))
    assert result.code == 404 and PAGE_SCRIPT_TAG in result.body.decode()


def test_static_html_files_get_the_script_and_lose_their_byte_ranges(tmp_path):
    path = tmp_path / "index.html"
    path.write_text("<html><body>static</body></html>", encoding="utf-8")
    headers = {"etag": '"abc"', "accept-ranges": "bytes", "x-app": "kept"}
    original = Response.file(path, content_type="text/html", headers=headers)
    result = add_page_script(original)
    assert result.body.decode() == f"<html><body>static{PAGE_SCRIPT_TAG}</body></html>"
    assert result.get_header("etag") == 'W/"abc"'
    assert result.get_header("accept-ranges") is None
    assert result.get_header("x-app") == "kept"
    assert result.file_span is None and original._file.closed


def test_big_html_files_are_sent_as_they_are(tmp_path, monkeypatch):
    monkeypatch.setattr(pagewatch, "MAX_FILE_BYTES", 10)
    path = tmp_path / "big.html"
    path.write_text("<body>" + "x" * 20 + "</body>", encoding="utf-8")
    original = Response.file(path, content_type="text/html")
    assert add_page_script(original) is original
    original.close()


def test_headers_cookies_and_shut_down_survive_the_rewrite():
    original = Response(PAGE, code=200, shut_down=True).set_cookie("a", "1")
    original.add_header("set-cookie", "b=2")
    result = add_page_script(original)
    assert result.shut_down
    assert [v for n, v in result.headers if n == "set-cookie"] == [
        "a=1; Path=/; HttpOnly; SameSite=Lax",
        "b=2",
    ]


def test_the_script_is_served_and_cacheable():
    _watcher, _clock, client = watched()
    target = re.search(r'src="([^"]+)"', PAGE_SCRIPT_TAG).group(1)
    script = client.get(target)
    assert script.status == 200
    assert script.content_type == "text/javascript"
    assert "sendBeacon" in script.text and "pagehide" in script.text
    assert "immutable" in script.headers["cache-control"]


def test_page_endpoints_never_reach_the_app():
    seen = []

    def app(request):
        seen.append(request.url.path)
        return PAGE

    _watcher, _clock, client = watched(app)
    ping(client)
    ping(client, what="bye")
    assert client.get("/__kali__/alive").status == 405
    assert client.get("/__kali__/alive").headers["allow"] == "POST"
    refused = client.post(
        "/__kali__/alive", body=b"no spaces!", content_type="text/plain"
    )
    assert refused.status == 400
    assert client.post("/__kali__/bye").status == 400
    assert seen == []
    client.get("/__kali__/other")
    assert seen == ["/__kali__/other"]


def test_cross_site_pings_are_refused():
    _watcher, _clock, client = watched()
    answer = client.post(
        "/__kali__/alive",
        body=b"page1",
        content_type="text/plain",
        headers={"Origin": "http://evil.example"},
    )
    assert answer.status == 403


def test_a_closed_page_stops_the_server_after_the_grace_period():
    watcher, clock, client = watched(grace=10)
    client.get("/")
    ping(client)
    for _ in range(20):  # a minute and a half of pings: open all along
        assert not advance(watcher, clock, 5)
        ping(client)
    ping(client, what="bye")
    assert not advance(watcher, clock, 9.9)
    assert advance(watcher, clock, 0.2)


def test_a_reload_or_a_click_within_the_grace_period_keeps_it():
    watcher, clock, client = watched(grace=10)
    client.get("/")
    ping(client, "first")
    ping(client, "first", "bye")
    clock.now += 0.5
    client.get("/")  # the next page arrives
    clock.now += 0.5
    ping(client, "second")
    assert not advance(watcher, clock, 30)  # 'second' pinged 30 s ago: still open
    assert set(watcher.pages) == {"second"}


def test_a_slow_page_keeps_it():
    clock = Clock()

    def slow(request):
        clock.now += 40  # longer than the grace period
        return PAGE

    watcher = PageWatcher(10, page_timeout_seconds=60, clock=clock)
    client = Client(watcher.wrap(slow))
    ping(client, "first", "bye")  # the click on a link to the slow page
    client.get("/slow")
    assert not watcher.is_idle()
    assert advance(watcher, clock, 10.5)  # ...but its script never said hello


def test_one_of_two_pages_closing_keeps_it():
    watcher, clock, client = watched(grace=10)
    ping(client, "a")
    ping(client, "b")
    ping(client, "a", "bye")
    assert not advance(watcher, clock, 30)


def test_a_page_silent_past_the_timeout_is_gone():
    watcher, clock, client = watched(grace=10, timeout=60)
    ping(client)
    assert not advance(watcher, clock, 59)
    assert advance(watcher, clock, 2)
    assert watcher.pages == {}


def test_the_browser_gets_the_page_timeout_to_show_the_first_page():
    watcher, clock, client = watched(grace=10, timeout=60)
    assert not advance(watcher, clock, 59)
    assert advance(watcher, clock, 2)


def test_the_page_table_is_bounded():
    watcher, clock, client = watched()
    for number in range(pagewatch.MAX_PAGES + 5):
        clock.now += 0.01
        ping(client, f"p{number}")
    assert len(watcher.pages) == pagewatch.MAX_PAGES
    assert "p0" not in watcher.pages and f"p{pagewatch.MAX_PAGES + 4}" in watcher.pages


@pytest.mark.parametrize(("grace", "timeout"), [(0, 60), (-1, 60), (10, 10)])
def test_bad_watcher_settings_are_refused(grace, timeout):
    with pytest.raises(ValueError):
        PageWatcher(grace, page_timeout_seconds=timeout)


# -- serve_http with quit_when_closed, driven by a test client -------------------------


class App:
    """serve_http in a thread; ``paths`` the app saw; ``stop()`` for cleanup."""

    def __init__(self, handler=page_app, **options):
        self.paths = []
        self.handler = handler
        self.ready = threading.Event()
        self.server = None
        options.setdefault("port", 0)
        options.setdefault("start", None)
        self.thread = threading.Thread(
            target=serve_http, args=(self.app,), kwargs=options, daemon=True
        )
        self.options = options
        options["on_ready"] = self.on_ready
        self.thread.start()
        assert self.ready.wait(PROCESS_SECONDS)

    def on_ready(self, server):
        self.server = server
        self.ready.set()

    def app(self, request):
        self.paths.append(request.url.path)
        return self.handler(request)

    def request(self, method, path, body=None, headers=None):
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.server.port, timeout=5
        )
        try:
            connection.request(method, path, body=body, headers=headers or {})
            answer = connection.getresponse()
            return answer.status, answer.read()
        finally:
            connection.close()

    def ping(self, page, what="alive"):
        origin = self.server.url.rstrip("/")
        status, _ = self.request("POST", f"/__kali__/{what}", page, {"Origin": origin})
        assert status == 204

    def stop(self):
        if self.thread.is_alive():
            self.server.stop()
        self.thread.join(PROCESS_SECONDS)
        assert not self.thread.is_alive()


@pytest.fixture
def apps():
    started = []

    def start(*args, **options):
        app = App(*args, **options)
        started.append(app)
        return app

    yield start
    for app in started:
        app.stop()


def test_a_simulated_page_closing_ends_serve_http(apps):
    app = apps(quit_when_closed=1.0)
    status, body = app.request("GET", "/")
    assert status == 200 and PAGE_SCRIPT_TAG.encode() in body
    app.ping("page1")
    for _ in range(10):  # 2.5 s, longer than the grace: still open
        time.sleep(0.25)
        app.ping("page1")
    assert app.thread.is_alive()
    status, _ = app.request(
        "POST", "/__kali__/alive", "x", {"Origin": "http://evil.example"}
    )
    assert status == 403
    closed = time.monotonic()
    app.ping("page1", "bye")
    app.thread.join(1.0 + 2.0)
    assert not app.thread.is_alive()
    assert time.monotonic() - closed >= 1.0
    assert app.paths == ["/"]


def test_a_simulated_reload_does_not_end_serve_http(apps):
    app = apps(quit_when_closed=1.0)
    app.request("GET", "/")
    app.ping("first")
    app.ping("first", "bye")
    app.request("GET", "/")
    app.ping("second")
    for _ in range(8):
        time.sleep(0.25)
        app.ping("second")
    assert app.thread.is_alive()
    app.ping("second", "bye")
    app.thread.join(3.0)
    assert not app.thread.is_alive()


def test_error_pages_of_a_watched_server_get_the_script(apps):
    def app(request):
        if request.url.path == "/boom":
            raise RuntimeError("a bug")
        raise HTTPError(404)

    served = apps(app, quit_when_closed=30)
    for path, code in (("/missing", 404), ("/boom", 500)):
        status, body = served.request("GET", path)
        assert status == code and PAGE_SCRIPT_TAG.encode() in body


def test_quit_when_closed_off_costs_nothing(apps):
    app = apps()
    assert app.server.handler == app.app
    assert app.server._tickers == []
    status, body = app.request("GET", "/")
    assert body == PAGE.encode()
    assert app.request("POST", "/__kali__/alive", "p")[0] == 200  # the app's own
    assert "/__kali__/alive" in app.paths


def test_on_ready_and_handlers_see_the_real_port(apps):
    app = apps(lambda request: Response.plain_text(request.headers.get("host")))
    assert app.server.port != 0
    assert app.server.url == f"http://127.0.0.1:{app.server.port}/"
    assert app.request("GET", "/")[1] == f"127.0.0.1:{app.server.port}".encode()


# -- real launches, as child processes -------------------------------------------------

APP_SOURCE = """\
import logging, sys
from kali import Response, serve_http

logging.basicConfig(level=logging.INFO, format="%(message)s")
ready = {}

def app(request):
    if request.url.path == "/quit":
        return Response("bye", shut_down=True)
    return "<html><body>served at " + ready["url"] + "</body></html>"

def on_ready(server):
    ready["url"] = server.url

app_id = sys.argv[1] if len(sys.argv) > 1 else None
serve_http(app, port=0, app_id=app_id, on_ready=on_ready, timeout=2)
print("serve_http returned", flush=True)
"""


class Launcher:
    """Runs APP_SOURCE in child processes with an isolated HOME and a fake
    browser that appends every URL it is given to ``opened``."""

    def __init__(self, tmp_path):
        self.script = tmp_path / "app.py"
        self.script.write_text(APP_SOURCE, encoding="utf-8")
        self.opened = tmp_path / "opened.txt"
        browser = tmp_path / "fake-browser"
        browser.write_text(f'#!/bin/sh\necho "$1" >> "{self.opened}"\n')
        browser.chmod(0o755)
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("XDG_", "KALI_")) and key not in ("DISPLAY",)
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
        self.children = []

    def start(self, *args, command=None):
        child = subprocess.Popen(
            command or [sys.executable, str(self.script), *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.children.append(child)
        return child

    def urls(self, count):
        """The first ``count`` URLs the fake browser was asked to open."""
        deadline = time.monotonic() + PROCESS_SECONDS
        while time.monotonic() < deadline:
            if self.opened.exists():
                lines = self.opened.read_text().split()
                if len(lines) >= count:
                    return lines
            time.sleep(0.05)
        raise AssertionError(f"the browser was not opened {count} times")

    def finish(self, child):
        """Wait for ``child``; (returncode, stdout, stderr)."""
        out, err = child.communicate(timeout=PROCESS_SECONDS)
        return child.returncode, out, err

    def close(self):
        for child in self.children:
            if child.poll() is None:
                child.kill()
            child.communicate(timeout=PROCESS_SECONDS)


@pytest.fixture
def launcher(tmp_path):
    runner = Launcher(tmp_path)
    yield runner
    runner.close()


def raw_get(port, target, headers=None):
    """``(status, body)`` of a GET of ``target`` on 127.0.0.1:``port``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", target, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


def get(url):
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname == "127.0.0.1"
    connection = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=5)
    try:
        connection.request("GET", parts.path or "/")
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


@posix_only
def test_port_0_end_to_end(launcher):
    child = launcher.start()
    [url] = launcher.urls(1)
    port = urllib.parse.urlsplit(url).port
    assert port and port != 8080
    assert get(url) == (200, f"<html><body>served at {url}</body></html>")
    get(url + "quit")
    code, out, err = launcher.finish(child)
    assert code == 0 and "serve_http returned" in out
    assert f"Listening on {url}" in err


@posix_only
def test_a_second_launch_opens_the_running_app_and_exits(launcher, tmp_path):
    first = launcher.start("kali-test")
    [url] = launcher.urls(1)
    second = launcher.start("kali-test")
    code, out, err = launcher.finish(second)
    assert code == 0 and "serve_http returned" in out
    assert "Listening" not in err and "already running" in err
    assert launcher.urls(2) == [url, url]
    record = tmp_path / "run" / "kali" / "kali-test" / "instance.json"
    assert json.loads(record.read_text())["port"] == urllib.parse.urlsplit(url).port
    get(url + "quit")
    assert launcher.finish(first)[0] == 0
    assert not record.exists()


@posix_only
def test_simultaneous_launches_make_one_instance(launcher):
    children = [launcher.start("kali-test") for _ in range(3)]
    urls = launcher.urls(3)
    assert len(set(urls)) == 1
    get(urls[0] + "quit")
    results = [launcher.finish(child) for child in children]
    assert [code for code, _out, _err in results] == [0, 0, 0]
    assert sum("Listening on" in err for _code, _out, err in results) == 1


@posix_only
def test_a_crashed_instance_is_replaced(launcher, tmp_path):
    crashed = launcher.start("kali-test")
    [old_url] = launcher.urls(1)
    record = tmp_path / "run" / "kali" / "kali-test" / "instance.json"
    old = json.loads(record.read_text())
    crashed.kill()  # no clean-up: the record stays behind
    launcher.finish(crashed)
    assert record.exists()

    fresh = launcher.start("kali-test")
    urls = launcher.urls(2)
    new = json.loads(record.read_text())
    assert urls[1] != old_url and new["port"] == urllib.parse.urlsplit(urls[1]).port
    assert new["secret"] != old["secret"] and new["pid"] == fresh.pid
    get(urls[1] + "quit")
    code, _out, err = launcher.finish(fresh)
    assert code == 0 and "Replacing the stale instance file" in err


@posix_only
def test_the_launcher_demo_runs_from_demo_sh(launcher, tmp_path):
    command = ["sh", str(ROOT / "demo.sh"), "launcher_demo"]
    first = launcher.start(command=command)
    [url] = launcher.urls(1)
    status, page = get(url)
    database = tmp_path / "data" / "kali-launcher-demo" / "notes.sqlite3"
    assert status == 200 and f"Kept in {database}." in page
    assert PAGE_SCRIPT_TAG in page  # quit_when_closed is on
    second = launcher.start(command=command)
    assert launcher.finish(second)[0] == 0
    assert launcher.urls(2) == [url, url]
    first.terminate()
    launcher.finish(first)


def test_the_launcher_demo_keeps_notes_in_its_database(tmp_path):
    database = tmp_path / "notes.sqlite3"
    example = load_example("launcher_demo")
    with closing(sqlite3.connect(database)) as db:
        client = Client(example.make_app(db))
        assert client.post("/", data={"text": "Buy <milk>"}).location == "/"
        client.post("/", data={"text": "  "})
        page = client.get("/")
        assert "Buy &lt;milk&gt;" in page.text and str(database) in page.text
    with closing(sqlite3.connect(database)) as db:
        again = Client(example.make_app(db))
        assert "Buy &lt;milk&gt;" in again.get("/").text
        assert again.post("/delete/1").status == 302
        assert "milk" not in again.get("/").text


# -- kali.launch: the browser is opened from above the loop ---------------------


def test_a_url_with_a_secret_goes_to_the_browser_in_a_private_file(
    monkeypatch, tmp_path, caplog
):
    import kali.launch
    from kali.server import Server

    caplog.set_level(logging.INFO, "kali")
    opened = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    server = Server(lambda request: ["x"], port=0, token="s3cret")
    server.bind()
    try:
        url = server.launch_url("notes?a=1")
        kali.launch.launch_browser(url, background=False, folder=tmp_path)
        [opened_url] = opened
        assert opened_url.startswith("file:") and "s3cret" not in opened_url
        [launch_file] = tmp_path.iterdir()
        assert opened_url == launch_file.as_uri()
        if os.name == "posix":
            assert stat.S_IMODE(launch_file.stat().st_mode) == 0o600
        page = launch_file.read_text(encoding="utf-8")
        assert 'content="0;url=' + url.replace("&", "&amp;") in page
        assert "s3cret" not in caplog.text
        assert f"Opening {server.url}notes?a=1&kali-token=REDACTED" in caplog.text
        kali.launch.open_browser(server, "/")  # in a thread: wait for it
        deadline = time.monotonic() + 10
        while len(opened) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert opened[1].startswith("file:") and "s3cret" not in opened[1]
        private = Path(
            urllib.request.url2pathname(urllib.parse.urlsplit(opened[1]).path)
        )
        assert "kali-token=s3cret" in private.read_text(encoding="utf-8")
        if os.name == "posix":
            assert stat.S_IMODE(private.parent.stat().st_mode) == 0o700
    finally:
        server.close()


def test_kali_launch_file_0_gives_the_browser_the_one_time_url(monkeypatch, tmp_path):
    import kali.launch

    opened = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    monkeypatch.setenv("KALI_LAUNCH_FILE", "0")
    url = "http://127.0.0.1:1/?kali-token=" + "a" * 64
    kali.launch.launch_browser(url, background=False, folder=tmp_path)
    assert opened == [url] and list(tmp_path.iterdir()) == []


def test_a_url_without_a_secret_goes_to_the_browser_as_it_is(monkeypatch, caplog):
    import kali.launch

    opened = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    kali.launch.launch_browser("http://127.0.0.1:1/a?b=c", background=False)
    assert opened == ["http://127.0.0.1:1/a?b=c"]


def test_a_browser_that_fails_is_only_logged(monkeypatch, caplog):
    import kali.launch

    def broken(url):
        raise RuntimeError("no display")

    monkeypatch.setattr(webbrowser, "open", broken)
    kali.launch.launch_browser("http://127.0.0.1:1/", background=False)
    assert "Could not open a browser" in caplog.text
    monkeypatch.setattr(webbrowser, "open", lambda url: False)
    kali.launch.launch_browser("http://127.0.0.1:1/", background=False)
    assert "No browser found" in caplog.text


def test_a_stream_with_a_length_is_not_read_into_memory_for_the_page_script():
    pieces = (b"<html><body>part</body></html>" for _ in range(1))
    streamed = Response.stream(pieces, content_length=30)
    assert add_page_script(streamed) is streamed
