"""Quit when the last page closes: ``serve_http(..., quit_when_closed=True)``.

A desktop program ends when its window closes; a kali app has no window, only
browser tabs, and the server cannot see a tab close. So every HTML page the
app serves gets one small script tag (``PAGE_SCRIPT_TAG``, added before
``</body>`` by :class:`PageWatcher`'s handler wrapper), and that script tells
the server about its page:

* ``POST /__kali__/alive`` with a random page id, at once and every
  ``PING_SECONDS`` (from a dedicated worker when it can: worker timers are
  neither stopped by ``alert()`` nor throttled to once a minute in a hidden
  tab, as main-thread timers are in Chromium);
* ``POST /__kali__/bye`` (``navigator.sendBeacon``) on ``pagehide``: a tab
  closing, a reload, or a link to another page.

The server stops once no page is open and nothing has been asked of it for
``grace_seconds``: long enough for a reload or a link click, whose next page
comes a moment after the bye. Any request restarts the clock, so a slow page
(served long after the bye of the page that linked to it) never makes it
quit. A page that stops pinging without a bye (the browser was killed) counts
as closed after ``page_timeout_seconds``.

Before the first ping the app is *waiting for a page*: the browser gets
``page_timeout_seconds`` to start and show it, and only a ping ends that
wait (a page served restarts it; a second launch's liveness probe, which
sends a browser here, does too). Other requests do not end it.

Time is counted while the loop is free: the ticker runs at least every
second while the loop waits, so a longer gap between two things the watcher
sees (``BUSY_GAP_SECONDS``) means the loop was busy (a long send, a slow
handler) and no page could ping; that gap is not counted against any page.

Everything runs on the server thread: the wrapper runs inside requests, and
the check is a ``Server.every`` ticker between them. Nothing here is used
unless the app asks for it, so it costs nothing when off. This module never
touches sockets.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Union

from .iolist import Body
from .response import Response

if TYPE_CHECKING:
    from .request import Request
    from .server import Server

__all__ = [
    "DEFAULT_GRACE_SECONDS",
    "DEFAULT_PAGE_TIMEOUT_SECONDS",
    "PAGE_SCRIPT_TAG",
    "PageWatcher",
    "watch_pages",
]

Handler = Callable[["Request"], Union[Response, Body]]
ErrorPage = Callable[[Union["Request", None], int, str], Union[Response, Body]]

#: Paths under this prefix are kali's own; the wrappers answer them and the
#: app never sees them.
KALI_PREFIX = "/__kali__/"
#: How often an open page says it is alive. The script is a constant, so this
#: is fixed; ``page_timeout_seconds`` must be well above it.
PING_SECONDS = 5
#: From the last bye (or the last request of any kind) to quitting: a reload
#: or a click on a link brings the next request within a second or two, and a
#: user who closed the window expects the program to end soon.
DEFAULT_GRACE_SECONDS = 15.0
#: A page silent this long is gone without a bye (browser killed, machine
#: asleep). Above the one-minute timer clamp Chromium applies to pages hidden
#: for five minutes, in case the worker cannot be used. Also the time the
#: browser gets to show the first page.
DEFAULT_PAGE_TIMEOUT_SECONDS = 90.0
#: A gap this long between two things the watcher sees (requests, ticks) means
#: the loop was busy: its ticker runs at least every second while it waits.
BUSY_GAP_SECONDS = 5.0
#: The liveness probe of a second launch (see ``kali.desktop``): a browser
#: tab is on its way.
LAUNCH_PROBE_PATH = "/__kali__/instance"
#: Pages are tracked by a random id; a misbehaving client cannot grow the table
#: past this (the oldest entry goes first).
MAX_PAGES = 256
#: Static HTML files up to this size get the tag too (read into memory);
#: bigger ones are sent as they are.
MAX_FILE_BYTES = 4 * 1024 * 1024

_PAGE_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")

PAGE_SCRIPT = """\
// kali: tells the app's server that this page is open (quit_when_closed).
(function () {
  "use strict";
  var path = "/__kali__/", every = PING_MS;
  function post(what, id) {
    fetch(path + what, {method: "POST", body: id, cache: "no-store",
                        credentials: "same-origin"}).catch(function () {});
  }
  if (typeof document === "undefined") {  // the worker: ping until killed
    self.onmessage = function (event) {
      var id = String(event.data);
      post("alive", id);
      setInterval(function () { post("alive", id); }, every);
    };
    return;
  }
  if (window.__kaliPages) return;
  var id = Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
  var pinging = false;
  function pingHere() {  // no worker: ping from the page itself
    window.__kaliPages = "page";
    if (pinging) return;
    pinging = true;
    post("alive", id);
    setInterval(function () { post("alive", id); }, every);
  }
  window.__kaliPages = "worker";
  try {
    var worker = new Worker(document.currentScript.src);
    worker.onerror = pingHere;
    worker.postMessage(id);
  } catch (error) {
    pingHere();
  }
  addEventListener("pagehide", function () {
    if (!(navigator.sendBeacon && navigator.sendBeacon(path + "bye", id))) {
      post("bye", id);
    }
  });
  addEventListener("pageshow", function (event) {
    if (event.persisted) post("alive", id);
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") post("alive", id);
  });
})();
""".replace("PING_MS", str(PING_SECONDS * 1000))

_SCRIPT_BYTES = PAGE_SCRIPT.encode("utf-8")
#: The script's URL carries a hash of it, so browsers may cache it for good.
SCRIPT_PATH = KALI_PREFIX + "pages.js"
_SCRIPT_TARGET = f"{SCRIPT_PATH}?{hashlib.sha256(_SCRIPT_BYTES).hexdigest()[:12]}"
#: The tag added to pages; an app that streams its pages (``Response.stream``
#: is sent as it is) may put it in them itself.
PAGE_SCRIPT_TAG = f'<script src="{_SCRIPT_TARGET}" async></script>'
_TAG_BYTES = PAGE_SCRIPT_TAG.encode("ascii")
_BODY_END = re.compile(rb"</body\s*>", re.IGNORECASE)
#: ``Sec-Fetch-Dest`` values of a navigation (a tab or a frame).
_DOCUMENTS = frozenset({"document", "iframe", "frame", "embed", "object"})


def _is_page(response: Response) -> bool:
    """Is this an HTML document a browser will show (and whose body we may
    change)? Partial content, redirects and encoded bodies are left alone."""
    code = response.code
    if not (code in (200, 201, 202, 203) or code >= 400):
        return False
    kind = (response.get_header("content-type") or "").split(";")[0].strip()
    encoding = (response.get_header("content-encoding") or "identity").strip()
    return kind.lower() == "text/html" and encoding.lower() == "identity"


def is_navigation(request: Request | None) -> bool:
    """Will the browser show this response as a page? Only a browser that
    says otherwise (``Sec-Fetch-Dest``: a ``fetch()``, an image...) is
    believed: an HTML fragment fetched by a script must stay as it is."""
    if request is None:
        return True
    destination = request.headers.get("sec-fetch-dest")
    return destination is None or destination.strip().lower() in _DOCUMENTS


def add_page_script(response: Response, request: Request | None = None) -> Response:
    """``response`` with :data:`PAGE_SCRIPT_TAG` before its last ``</body>``
    (or at the end), when it is an HTML page answering a navigation
    (:func:`is_navigation`); otherwise ``response`` itself.

    A stream, a file over ``MAX_FILE_BYTES`` and a page that already has the
    script are returned unchanged.
    """
    if not is_navigation(request):
        return response
    if not _is_page(response):
        return response
    length = response.content_length
    span = response.file_span
    if length is None or (response.chunks is None and span is None):
        return response  # a stream (with a length or not): sent as it comes
    if span is not None and length > MAX_FILE_BYTES:
        return response
    body = response.body
    response.close()
    if SCRIPT_PATH.encode("ascii") in body:
        new_body = body
    else:
        ends = list(_BODY_END.finditer(body))
        cut = ends[-1].start() if ends else len(body)
        new_body = body[:cut] + _TAG_BYTES + body[cut:]
    headers = []
    for name, value in response.headers:
        if name in ("content-length", "accept-ranges"):
            continue  # recomputed; and byte ranges of the file no longer apply
        if name == "etag" and not value.startswith("W/"):
            value = "W/" + value  # the same page, but not the same bytes
        headers.append((name, value))
    return Response(
        new_body, code=response.code, headers=headers, shut_down=response.shut_down
    )


def _no_content() -> Response:
    return Response(b"", code=204, headers={"cache-control": "no-store"})


class PageWatcher:
    """Which pages of the app are open, and whether the server should stop.

    ``wrap(handler)`` gives the handler to serve: it answers kali's
    ``/__kali__/`` page endpoints, adds the script to HTML pages and notes
    every request. ``why_idle()`` (or ``is_idle()``) is the check a ticker
    runs about every second between requests. ``clock`` (seconds,
    monotonic) is replaceable for tests. Raises ValueError for a grace that
    is not positive or a page timeout not above ``2 * PING_SECONDS``.
    """

    def __init__(
        self,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        *,
        page_timeout_seconds: float = DEFAULT_PAGE_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not grace_seconds > 0:
            raise ValueError("the grace period must be positive")
        if not page_timeout_seconds > 2 * PING_SECONDS:
            raise ValueError(f"the page timeout must exceed {2 * PING_SECONDS} s")
        self.grace_seconds = float(grace_seconds)
        self.page_timeout_seconds = float(page_timeout_seconds)
        self.clock = clock
        self._last_seen = clock()
        #: Time the loop spent busy (gaps over BUSY_GAP_SECONDS), not counted.
        self.busy_seconds = 0.0
        # All times below are on the free-loop clock of _now().
        self.started = self._now()
        #: Open pages: id -> when it was last heard of.
        self.pages: dict[str, float] = {}
        #: When the last request of any kind was answered (None: none yet).
        self.last_request: float | None = None
        #: Since when a browser is expected to show a page (None: a page has
        #: pinged since): the start, a page served, a second launch's probe.
        self.waiting_since: float | None = self.started

    def _now(self) -> float:
        """The clock, less the time the loop was busy."""
        now = self.clock()
        gap = now - self._last_seen
        self._last_seen = now
        if gap > BUSY_GAP_SECONDS:
            self.busy_seconds += gap
        return now - self.busy_seconds

    def wrap(self, handler: Handler) -> Handler:
        """``handler`` behind the page endpoints and the script injection."""

        def watched(request: Request) -> Response | Body:
            self._now()  # the wait for this request: free or busy
            path = request.url.path
            is_page = False
            try:
                if path.startswith(KALI_PREFIX):
                    answer = self.answer(request)
                    if answer is not None:
                        return answer
                    if path == LAUNCH_PROBE_PATH:  # a new tab is on its way
                        self.waiting_since = self._now()
                result = handler(request)
                response = result if isinstance(result, Response) else Response(result)
                is_page = is_navigation(request) and _is_page(response)
                return add_page_script(response, request)
            finally:
                now = self.last_request = self._now()
                if is_page and self.waiting_since is not None:
                    self.waiting_since = now  # a tab is loading: give it time

        return watched

    def wrap_error_page(self, error_page: ErrorPage | None) -> ErrorPage:
        """The server's ``error_page`` (or kali's plain one, showing the message
        below 500 as the server does) with the script added: a 404 is a page
        the user looks at too."""

        def page(request: Request | None, status: int, message: str) -> Response:
            if error_page is None:
                result: Response | Body = Response.error_page(
                    status, message if status < 500 else None
                )
            else:
                result = error_page(request, status, message)
            if not isinstance(result, Response):
                result = Response(result, code=status)
            return add_page_script(result, request)

        return page

    def answer(self, request: Request) -> Response | None:
        """The answer to one of the page endpoints; None for other paths."""
        path = request.url.path
        if path == SCRIPT_PATH:
            return Response(
                _SCRIPT_BYTES,
                headers={
                    "content-type": "text/javascript; charset=utf-8",
                    "cache-control": "max-age=31536000, immutable",
                },
            )
        if path not in (KALI_PREFIX + "alive", KALI_PREFIX + "bye"):
            return None
        if request.command != "POST":
            return Response.error_page(405).set_header("allow", "POST")
        page = request.body[:100].decode("ascii", "replace").strip()
        if not _PAGE_ID.fullmatch(page):
            return Response.error_page(400, "Expected a page id.")
        self.waiting_since = None  # a page has said hello
        if path.endswith("/bye"):
            self.pages.pop(page, None)
        else:
            self.note_alive(page)
        return _no_content()

    def note_alive(self, page: str) -> None:
        if page not in self.pages and len(self.pages) >= MAX_PAGES:
            del self.pages[min(self.pages, key=self.pages.__getitem__)]
        self.pages[page] = self._now()

    def why_idle(self) -> str | None:
        """Why the server should stop now (a message saying for how long
        nothing was open), or None while a page is open or expected.

        Forgets pages silent for longer than the page timeout.
        """
        now = self._now()
        for page, seen in list(self.pages.items()):
            if now - seen > self.page_timeout_seconds:
                del self.pages[page]
        if self.pages:
            return None
        if self.waiting_since is not None:
            waited = now - self.waiting_since
            if waited <= self.page_timeout_seconds:
                return None
            return (
                f"No page of the app was opened in {waited:.0f} s"
                " (KALI_KEEP_RUNNING=1 keeps it serving); quitting."
            )
        quiet = now - (self.started if self.last_request is None else self.last_request)
        if quiet <= self.grace_seconds:
            return None
        return f"No page has been open for {quiet:.0f} s; quitting."

    def hold(self) -> None:
        """The app is busy with work off the loop (a job): not idle now, and
        the grace period, or the wait for a first page, starts again."""
        now = self._now()
        self.last_request = now
        if self.waiting_since is not None:
            self.waiting_since = now

    def is_idle(self) -> bool:
        """True when no page is open and none is expected any more."""
        return self.why_idle() is not None


def watch_pages(
    server: Server,
    grace_seconds: float | None = None,
    *,
    page_timeout_seconds: float | None = None,
) -> PageWatcher:
    """Make ``server`` stop once no page of its app has been open for
    ``grace_seconds`` (None: ``DEFAULT_GRACE_SECONDS``). Call before serving:
    it wraps ``server.handler`` and registers a ticker. Returns the watcher.
    """
    watcher = PageWatcher(
        DEFAULT_GRACE_SECONDS if grace_seconds is None else grace_seconds,
        page_timeout_seconds=(
            DEFAULT_PAGE_TIMEOUT_SECONDS
            if page_timeout_seconds is None
            else page_timeout_seconds
        ),
    )
    server.handler = watcher.wrap(server.handler)
    server.error_page = watcher.wrap_error_page(server.error_page)

    def check() -> None:
        if server.is_busy():  # a job runs: the tab may come back for it
            watcher.hold()
            return
        reason = watcher.why_idle()
        if reason is not None:
            server.log.info("%s", reason)
            server.stop()

    server.every(min(1.0, watcher.grace_seconds / 4), check)
    return watcher
