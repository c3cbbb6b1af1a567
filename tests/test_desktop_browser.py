"""quit_when_closed with a real headless Chromium: closing the last tab ends
serve_http within the grace period (+2 s); reloads, link clicks, slow pages
and a second tab do not."""

from __future__ import annotations

import threading
import time

import pytest

from kali import Response, serve_http

pytestmark = pytest.mark.browser

GRACE = 2.0
#: serve_http must return this soon after the last tab closes.
QUIT_WITHIN = GRACE + 2.0
JOIN_SECONDS = 20.0

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1>
<a id="other" href="/other">other</a> <a id="slow" href="/slow">slow</a>
</body></html>"""


class WatchedApp:
    """serve_http(quit_when_closed=GRACE) in a thread; ``paths`` records every
    request, kali's own endpoints included."""

    def __init__(self, **options) -> None:
        self.paths: list[str] = []
        self.ready = threading.Event()
        self.server = None
        self.thread = threading.Thread(
            target=serve_http,
            args=(self.app,),
            kwargs={
                "port": 0,
                "start": None,
                "quit_when_closed": GRACE,
                "on_ready": self.on_ready,
                **options,
            },
            daemon=True,
        )
        self.thread.start()
        assert self.ready.wait(JOIN_SECONDS)

    def on_ready(self, server) -> None:
        # Outermost wrapper: sees the page pings that never reach the app.
        inner = server.handler

        def recording(request):
            self.paths.append(request.url.path)
            return inner(request)

        server.handler = recording
        self.server = server
        self.ready.set()

    def app(self, request):
        name = request.url.path.strip("/") or "home"
        if name == "slow":
            time.sleep(GRACE + 1.0)  # longer than the grace period
        return Response(PAGE.format(title=name))

    @property
    def url(self) -> str:
        return self.server.url

    def is_serving(self) -> bool:
        return self.thread.is_alive()

    def wait_for(self, path: str, count: int = 1) -> None:
        deadline = time.monotonic() + JOIN_SECONDS
        while self.paths.count(path) < count:
            assert time.monotonic() < deadline, f"no {path} in {self.paths}"
            time.sleep(0.05)

    def seconds_to_quit(self, since: float) -> float:
        self.thread.join(JOIN_SECONDS)
        assert not self.thread.is_alive(), "serve_http did not return"
        return time.monotonic() - since

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.stop()
            self.thread.join(JOIN_SECONDS)


@pytest.fixture
def watched_app():
    started = []

    def start(**options):
        app = WatchedApp(**options)
        started.append(app)
        return app

    yield start
    for app in started:
        app.stop()


@pytest.fixture
def watched(watched_app):
    return watched_app()


@pytest.fixture
def tabs(browser):
    """``open()`` a tab; ``close(tab)`` closes it the way a user does
    (Target.closeTarget), keeping its browser context until teardown so that
    nothing cuts its last beacon short."""
    opened = []

    class Tabs:
        @staticmethod
        def open():
            tab = browser.new_page()
            opened.append(tab)
            return tab

        @staticmethod
        def close(tab) -> float:
            closed = time.monotonic()
            browser.send("Target.closeTarget", {"targetId": tab.target_id})
            tab.closed = True
            if tab in browser.pages:
                browser.pages.remove(tab)
            return closed

    yield Tabs
    for tab in opened:
        if tab.closed:
            browser.send(
                "Target.disposeBrowserContext", {"browserContextId": tab.context}
            )
        else:
            tab.close()


@pytest.mark.parametrize("token", [False, True], ids=["plain", "token"])
def test_closing_the_last_tab_ends_serve_http(watched_app, tabs, token):
    watched = watched_app(token=token)
    tab = tabs.open()
    tab.goto(watched.server.launch_url(""))
    assert tab.text("h1") == "home"
    assert tab.wait_for("window.__kaliPages") == "worker"
    watched.wait_for("/__kali__/alive")
    closed = tabs.close(tab)
    took = watched.seconds_to_quit(closed)
    assert GRACE - 0.5 <= took <= QUIT_WITHIN
    assert "/__kali__/bye" in watched.paths


def test_reloads_clicks_and_slow_pages_keep_it_serving(watched, tabs):
    tab = tabs.open()
    tab.goto(watched.url)
    watched.wait_for("/__kali__/alive")

    tab.reload()
    watched.wait_for("/__kali__/alive", 2)
    time.sleep(GRACE + 1.5)
    assert watched.is_serving()
    assert watched.paths.count("/__kali__/bye") == 1

    with tab.expect_navigation():
        tab.click("#other")
    assert tab.text("h1") == "other"
    time.sleep(GRACE + 1.0)
    assert watched.is_serving()

    with tab.expect_navigation(timeout=GRACE + 10):
        tab.click("#slow")
    assert tab.text("h1") == "slow"
    time.sleep(1.0)
    assert watched.is_serving()

    closed = tabs.close(tab)
    assert watched.seconds_to_quit(closed) <= QUIT_WITHIN


def test_it_serves_while_another_tab_is_open(watched, tabs):
    first, second = tabs.open(), tabs.open()
    first.goto(watched.url)
    second.goto(watched.url + "other")
    watched.wait_for("/__kali__/alive", 2)
    tabs.close(first)
    time.sleep(GRACE + 1.5)
    assert watched.is_serving()
    assert second.text("h1") == "other"
    closed = tabs.close(second)
    assert watched.seconds_to_quit(closed) <= QUIT_WITHIN


def test_the_launch_file_opens_the_app_with_a_one_time_code(
    watched_app, tabs, tmp_path
):
    from kali.launch import write_launch_file

    watched = watched_app(token=True)
    url = watched.server.launch_url("other?x=1")
    launch_file = write_launch_file(url, tmp_path)
    tab = tabs.open()
    tab.goto(launch_file.as_uri())
    assert tab.wait_for("document.querySelector('h1') && location.href") == (
        watched.url + "other?x=1"  # the code is gone from the address bar
    )
    assert tab.text("h1") == "other"
    tab.reload()  # the SameSite=Strict cookie came with the move from the file
    assert tab.text("h1") == "other"
    other = tabs.open()  # another browser profile: the used code is worth nothing
    other.goto(url)
    assert "used already" in other.text("body")
    assert watched.paths.count("/other") == 2
