"""Shared fixtures: a real kali server in a thread, and a headless Chromium.

``browser`` is skipped when no Chromium is installed, except in CI
(``CI=true``), where a missing browser is a failure: browser tests must not
silently stop running there.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any, Callable

import pytest
from browser import Browser, BrowserError, Page, find_chromium

SERVER_JOIN_SECONDS = 5.0


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole run (pages are isolated contexts)."""
    if os.name != "posix":
        pytest.skip("the DevTools pipe driver needs POSIX file descriptors")
    path = find_chromium()
    if path is None:
        message = "no Chromium on PATH or in $KALI_CHROMIUM (apt-get install chromium)"
        if in_ci():
            pytest.fail(f"{message}; CI must run the browser tests")
        pytest.skip(message)
    try:
        instance = Browser(path)
    except BrowserError as error:
        pytest.fail(f"Chromium at {path} did not start: {error}")
    with instance:
        yield instance


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab with its own cookies and storage, closed after the test."""
    tab = browser.new_page()
    try:
        yield tab
    finally:
        tab.close()


@pytest.fixture
def kali_server() -> Iterator[Callable[..., Any]]:
    """``start(handler, **server_options) -> Server``: a kali Server bound to
    127.0.0.1 on a free port, serving from a daemon thread. Every server
    started is stopped, joined and closed at teardown."""
    from kali.server import Server

    started: list[tuple[Any, threading.Thread]] = []

    def start(handler: Callable[..., Any], **options: Any) -> Server:
        options.setdefault("address", "127.0.0.1")
        options.setdefault("port", 0)
        server = Server(handler, **options)
        server.bind()
        thread = threading.Thread(
            target=server.serve_forever, name=f"kali-{server.port}", daemon=True
        )
        started.append((server, thread))
        thread.start()
        return server

    yield start
    stuck = []
    for server, thread in reversed(started):
        server.stop()
        thread.join(SERVER_JOIN_SECONDS)
        if thread.is_alive():
            stuck.append(thread.name)
        server.close()
    assert not stuck, f"servers did not stop within {SERVER_JOIN_SECONDS} s: {stuck}"
