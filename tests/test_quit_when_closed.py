"""quit_when_closed: only a page from a browser tab ends the wait for the
first page; time the loop spent busy is not held against open pages; the
quit message says how long it waited; --keep-running and KALI_KEEP_RUNNING
turn it off; the launcher demo says what it does.

The watcher runs with a fake clock, stepped the way its ticker runs (about
every second while the loop is free); serve_http runs in a thread.
"""

from __future__ import annotations

import http.client
import logging
import threading

import pytest

import kali.pagewatch as pagewatch
from examples import load_example
from kali import serve_http
from kali.desktop import InstanceLock
from kali.launch import keep_running_requested, launch_arguments, run_app
from kali.pagewatch import (
    DEFAULT_GRACE_SECONDS,
    DEFAULT_PAGE_TIMEOUT_SECONDS,
    PAGE_SCRIPT_TAG,
    PageWatcher,
)
from kali.testing import Client

PAGE = "<!DOCTYPE html><html><body><p>hi</p></body></html>"
JOIN_SECONDS = 30.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def advance(watcher, clock, seconds, step=1.0):
    """Let ``seconds`` pass on a free loop whose ticker checks every
    ``step``; whether the watcher is idle at the end."""
    end = clock.now + seconds
    while clock.now + step < end:
        clock.now += step
        watcher.is_idle()
    clock.now = end
    return watcher.is_idle()


def app(request):
    return PAGE


def watched(handler=app, grace=10.0, timeout=60.0):
    clock = Clock()
    watcher = PageWatcher(grace, page_timeout_seconds=timeout, clock=clock)
    return watcher, clock, Client(watcher.wrap(handler))


def ping(client, page="page1", what="alive"):
    answer = client.post(
        f"/__kali__/{what}", body=page.encode(), content_type="text/plain"
    )
    assert answer.status == 204


# -- the wait for the first page ------------------------------------------------


def test_a_second_launch_probe_does_not_end_the_wait_for_the_first_page(tmp_path):
    lock = InstanceLock("notes", folder=tmp_path)
    watcher, clock, client = watched(lock.wrap(app))
    assert advance(watcher, clock, 5) is False
    probe = client.get("/__kali__/instance?nonce=" + "a" * 32)  # a double-click
    assert probe.status == 200
    client.get("/favicon.ico", headers={"Sec-Fetch-Dest": "image"})
    # Past the grace period, still waiting for the browser to show a page.
    assert advance(watcher, clock, 20) is False
    assert advance(watcher, clock, 30) is False
    ping(client)  # the tab arrives late (the browser took 55 s to start)
    assert advance(watcher, clock, 30) is False


def test_without_a_page_it_waits_the_page_timeout_then_says_so():
    watcher, clock, _client = watched()
    assert advance(watcher, clock, 59) is False
    assert advance(watcher, clock, 2) is True
    reason = watcher.why_idle()
    assert reason.startswith("No page of the app was opened in 61 s")
    assert "10 s" not in reason


def test_a_page_served_restarts_the_wait_and_a_ping_ends_it():
    watcher, clock, client = watched()
    assert advance(watcher, clock, 50) is False
    assert PAGE_SCRIPT_TAG in client.get("/").text  # a tab is loading
    assert advance(watcher, clock, 50) is False  # 100 s since the start
    ping(client)
    ping(client, what="bye")
    assert advance(watcher, clock, 10.5) is True
    assert watcher.why_idle() == "No page has been open for 10 s; quitting."


# -- a busy loop ---------------------------------------------------------------------


def test_a_long_send_does_not_expire_an_open_page():
    watcher, clock, client = watched()
    ping(client)
    assert client.get("/big").status == 200  # the handler returns at once...
    clock.now += 120  # ...and the send takes two minutes: no tick, no ping
    assert watcher.is_idle() is False
    assert "page1" in watcher.pages
    ping(client)  # the pings that waited in the queue
    assert advance(watcher, clock, 59) is False
    assert advance(watcher, clock, 2) is True  # silent for 61 s of free loop


def test_a_slow_handler_does_not_expire_an_open_page():
    clock = Clock()

    def slow(request):
        clock.now += 100  # a long import, a locked database
        return PAGE

    watcher = PageWatcher(10, page_timeout_seconds=60, clock=clock)
    client = Client(watcher.wrap(slow))
    ping(client)
    client.get("/slow", headers={"Sec-Fetch-Dest": "empty"})
    assert advance(watcher, clock, 30) is False
    assert set(watcher.pages) == {"page1"}


def test_the_quit_message_says_how_long_it_waited(monkeypatch, caplog):
    monkeypatch.setattr(pagewatch, "DEFAULT_PAGE_TIMEOUT_SECONDS", 11.0)
    caplog.set_level(logging.INFO, "kali")
    serve_http(lambda request: PAGE, port=0, start=None, quit_when_closed=1.0)
    [line] = [line for line in caplog.messages if "quitting" in line]
    assert line.startswith("No page of the app was opened in 11 s"), line


# -- keeping it running ------------------------------------------------------------


def test_launch_arguments_read_keep_running():
    assert launch_arguments(argv=["--keep-running"]).keep_running is True
    assert launch_arguments(argv=[]).keep_running is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("yes", True),
        ("TRUE", True),
        ("0", False),
        ("", False),
        ("no", False),
    ],
)
def test_keep_running_variable(value, expected):
    assert keep_running_requested({"KALI_KEEP_RUNNING": value}) is expected


def serve_in_thread(target, *args, **options):
    """Run ``target`` in a thread until its on_ready; (server, thread)."""
    ready = threading.Event()
    servers = []

    def on_ready(server):
        servers.append(server)
        ready.set()

    thread = threading.Thread(
        target=target, args=args, kwargs={**options, "on_ready": on_ready}, daemon=True
    )
    thread.start()
    assert ready.wait(JOIN_SECONDS)
    return servers[0], thread


def page_of(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request("GET", "/")
        return connection.getresponse().read().decode()
    finally:
        connection.close()


def stop(server, thread):
    server.stop()
    thread.join(JOIN_SECONDS)
    assert not thread.is_alive()


def test_keep_running_argument_turns_quit_when_closed_off(capsys):
    arguments = launch_arguments(argv=["--port", "0", "--no-browser", "--keep-running"])
    server, thread = serve_in_thread(
        run_app, lambda request: PAGE, arguments, quit_when_closed=0.5
    )
    assert PAGE_SCRIPT_TAG not in page_of(server) and server._tickers == []
    stop(server, thread)
    assert "Serving on" in capsys.readouterr().out


@pytest.mark.parametrize(("value", "watched_pages"), [("1", False), ("0", True)])
def test_keep_running_variable_turns_quit_when_closed_off(
    monkeypatch, value, watched_pages
):
    monkeypatch.setenv("KALI_KEEP_RUNNING", value)
    server, thread = serve_in_thread(
        serve_http, lambda request: PAGE, port=0, start=None, quit_when_closed=30
    )
    assert (PAGE_SCRIPT_TAG in page_of(server)) is watched_pages
    stop(server, thread)


# -- the launcher demo says what it does --------------------------------------------


def test_the_launcher_demo_text_matches_what_it_does():
    example = load_example("launcher_demo")
    text = example.__doc__
    assert f"{DEFAULT_GRACE_SECONDS:.0f} s later the server" in text
    assert f"up to {DEFAULT_PAGE_TIMEOUT_SECONDS:.0f} s" in text
    assert "--keep-running" in text and "KALI_KEEP_RUNNING=1" in text
    source = example.__loader__.get_source(example.__name__)
    main = source[source.index('if __name__ == "__main__":') :]
    assert main.index("claim_instance(") < main.index("sqlite3.connect(")
