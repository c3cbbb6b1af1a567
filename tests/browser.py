"""A small headless-Chromium driver for the test suite, stdlib only.

Chromium is started with ``--remote-debugging-pipe`` and driven over the
DevTools protocol: JSON messages separated by NUL bytes, which the browser
reads on its file descriptor 3 and writes on its descriptor 4. One thread,
no event loop: a command is written, then messages are read (with a
deadline) until its answer comes; the events read meanwhile are kept, per
page, for ``wait_for_event`` and for the tests to inspect::

    with Browser() as browser:
        page = browser.new_page()
        page.goto(server.url)
        page.fill("#name", "Zoë 中文 🐍")
        page.submit("form")
        assert page.evaluate("document.title") == "Saved"
        page.screenshot(tmp_path / "saved.png")

``Browser.close()`` ends only the process it started (by its Popen handle)
and removes its temporary profile. POSIX only. The pipe ends are moved to
fds 3 and 4 by a tiny Python trampoline that then execs the browser (same
pid): unlike ``preexec_fn`` this is safe while other threads run (the tests
serve from a thread), and unlike ``sh`` redirections it takes any fd number.
``read_png`` and ``png_colours`` decode screenshots for pixel checks.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import accumulate
from pathlib import Path
from typing import Any

#: Found on PATH, in this order (Debian names the package ``chromium``).
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",  # containers have a tiny /dev/shm
    "--mute-audio",
    "--hide-scrollbars",
)

#: The first command may wait for a cold start of the browser.
START_TIMEOUT = 30.0
COMMAND_TIMEOUT = 10.0
#: Where the pipe ends are parked before the trampoline moves them to 3 and 4.
_HIGH_FD = 10
#: Run by a fresh Python in the child: put the pipes at 3 and 4, then become
#: the browser (same pid, so the Popen handle is the browser's).
_TRAMPOLINE = """\
import os, sys
fds = [int(sys.argv[1]), int(sys.argv[2])]
os.dup2(fds[0], 3)
os.dup2(fds[1], 4)
for fd in fds:
    os.close(fd)
os.execv(sys.argv[3], sys.argv[3:])
"""


class BrowserError(Exception):
    """The browser failed, died, or answered a command with an error."""


class JavaScriptError(BrowserError):
    """An exception was thrown by evaluated JavaScript."""


def find_chromium() -> str | None:
    """Path of a Chromium-family browser on PATH (``$KALI_CHROMIUM`` first)."""
    explicit = os.environ.get("KALI_CHROMIUM")
    if explicit:
        return shutil.which(explicit) or None
    for name in BROWSER_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _high_fd(fd: int) -> int:
    """A close-on-exec duplicate of ``fd`` numbered at least ``_HIGH_FD``."""
    import fcntl  # POSIX only: imported here so that this module loads anywhere

    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, _HIGH_FD)


class Browser:
    """A headless Chromium with a fresh profile; a context manager.

    ``Browser(path=None, extra_flags=(), window=(1024, 768))``: ``path``
    defaults to :func:`find_chromium`. Raises BrowserError when there is no
    browser or it does not answer within ``START_TIMEOUT`` seconds.
    """

    def __init__(
        self,
        path: str | None = None,
        *,
        extra_flags: tuple[str, ...] = (),
        window: tuple[int, int] = (1024, 768),
    ) -> None:
        if os.name != "posix":
            raise BrowserError("the pipe driver needs POSIX file descriptors")
        executable = shutil.which(path) if path else find_chromium()
        if executable is None:
            raise BrowserError(f"no Chromium found ({path or 'on PATH'})")
        self.executable = executable
        self._next_id = 0
        self._buffer = bytearray()
        #: Events by sessionId ("" for browser-level events), in arrival order.
        self._events: dict[str, list[dict[str, Any]]] = {}
        self._answers: dict[int, dict[str, Any]] = {}
        self._pending: set[int] = set()  # answers still awaited
        self._closed_sessions: set[str] = set()
        self.pages: list[Page] = []
        self.process: subprocess.Popen[bytes] | None = None
        self._to_browser = self._from_browser = -1
        self._tempdir = tempfile.mkdtemp(prefix="kali-chromium-")
        self._stderr_path = os.path.join(self._tempdir, "stderr.log")
        try:
            self._start(extra_flags, window)
            self.version = self.send("Browser.getVersion", timeout=START_TIMEOUT)
        except BaseException:
            self.close()
            raise

    def _start(self, extra_flags: tuple[str, ...], window: tuple[int, int]) -> None:
        profile = os.path.join(self._tempdir, "profile")
        os.mkdir(profile)
        argv = [
            self.executable,
            *FLAGS,
            f"--window-size={window[0]},{window[1]}",
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            *extra_flags,
            "about:blank",
        ]
        # We write commands into one pipe and read answers from the other; the
        # child gets their other ends as its fds 3 and 4.
        command_r, self._to_browser = os.pipe()
        self._from_browser, answer_w = os.pipe()
        child_fds: list[int] = []
        try:
            for fd in (command_r, answer_w):
                child_fds.append(_high_fd(fd))
            trampoline = [sys.executable, "-I", "-S", "-c", _TRAMPOLINE]
            with open(self._stderr_path, "wb") as stderr:
                self.process = subprocess.Popen(
                    [*trampoline, *map(str, child_fds), *argv],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    pass_fds=child_fds,
                    cwd=self._tempdir,
                )
        finally:  # the child has its copies; ours would hide its death
            for fd in (command_r, answer_w, *child_fds):
                os.close(fd)

    # -- context manager and shutdown ------------------------------------

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the browser (politely, then by force) and delete its profile."""
        process, self.process = self.process, None
        if process is not None:
            try:
                if process.poll() is None:
                    try:
                        self._write({"id": self._new_id(), "method": "Browser.close"})
                    except OSError:
                        pass
                    try:
                        process.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait(timeout=10)
            finally:
                if process.poll() is None:  # pragma: no cover - wait() failed
                    process.kill()
                    process.wait()
        for name in ("_to_browser", "_from_browser"):
            fd = getattr(self, name)
            if fd >= 0:
                os.close(fd)
                setattr(self, name, -1)
        for _attempt in range(20):  # a dying child may still write its profile
            shutil.rmtree(self._tempdir, ignore_errors=True)
            if not os.path.exists(self._tempdir):
                break
            time.sleep(0.1)

    @property
    def stderr_tail(self) -> str:
        """The end of the browser's stderr, for error messages."""
        try:
            with open(self._stderr_path, "rb") as file:
                file.seek(0, os.SEEK_END)
                file.seek(max(0, file.tell() - 4000))
                return file.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # -- the protocol ------------------------------------------------------

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _write(self, message: dict[str, Any]) -> None:
        data = memoryview(json.dumps(message).encode("utf-8") + b"\0")
        while data:
            written = os.write(self._to_browser, data)
            data = data[written:]

    def _read_messages(self, timeout: float) -> bool:
        """Read what the browser has written within ``timeout`` seconds and
        file it; True when at least one message arrived."""
        if self._from_browser < 0:
            raise BrowserError("the browser is closed")
        ready, _, _ = select.select([self._from_browser], [], [], max(timeout, 0))
        if not ready:
            return False
        data = os.read(self._from_browser, 1 << 20)
        if not data:
            code = self.process.poll() if self.process else None
            raise BrowserError(
                f"the browser closed its pipe (exit status {code})\n" + self.stderr_tail
            )
        self._buffer += data
        got = False
        while True:
            end = self._buffer.find(b"\0")
            if end < 0:
                return got
            message = json.loads(self._buffer[:end])
            del self._buffer[: end + 1]
            got = True
            if "id" in message:
                if message["id"] in self._pending:  # else its wait timed out
                    self._answers[message["id"]] = message
            else:
                session = message.get("sessionId", "")
                if session not in self._closed_sessions:
                    self._events.setdefault(session, []).append(message)

    def pump(self, seconds: float) -> None:
        """Receive and file events for ``seconds``."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            self._read_messages(remaining)

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: str = "",
        timeout: float = COMMAND_TIMEOUT,
    ) -> dict[str, Any]:
        """Send one command and return its ``result``; BrowserError on error."""
        message_id = self._new_id()
        message: dict[str, Any] = {"id": message_id, "method": method}
        if params:
            message["params"] = params
        if session:
            message["sessionId"] = session
        self._pending.add(message_id)
        try:
            self._write(message)
            deadline = time.monotonic() + timeout
            while message_id not in self._answers:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BrowserError(f"{method}: no answer within {timeout} s")
                self._read_messages(remaining)
        finally:
            self._pending.discard(message_id)
        answer = self._answers.pop(message_id)
        if "error" in answer:
            error = answer["error"]
            raise BrowserError(f"{method}: {error.get('message')} {error}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    def _forget(self, session: str) -> None:
        """Drop a closed page's events, and any that still come for it."""
        self._closed_sessions.add(session)
        self._events.pop(session, None)

    def events(self, session: str = "") -> list[dict[str, Any]]:
        """The events received so far for ``session`` (a live list)."""
        return self._events.setdefault(session, [])

    def wait_for_event(
        self,
        method: str,
        *,
        session: str = "",
        after: int = 0,
        timeout: float = COMMAND_TIMEOUT,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """The params of the first ``method`` event at index ``after`` or later
        of ``session``'s events, waiting up to ``timeout`` seconds for it."""
        events = self.events(session)
        deadline = time.monotonic() + timeout
        index = after
        while True:
            for event in events[index:]:
                params: dict[str, Any] = event.get("params", {})
                if event["method"] == method and (
                    predicate is None or predicate(params)
                ):
                    return params
            index = len(events)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {method} event within {timeout} s")
            self._read_messages(remaining)

    # -- pages ---------------------------------------------------------------

    def new_page(
        self, *, isolated: bool = True, network: bool = True, cache: bool = False
    ) -> Page:
        """A new tab at about:blank.

        ``isolated`` gives it its own browser context (cookies, storage and
        cache of its own, discarded when the page closes); ``network``
        records Network events; ``cache=False`` disables the HTTP cache, so
        that every load reaches the server.
        """
        context = ""
        if isolated:
            context = self.send("Target.createBrowserContext")["browserContextId"]
        params: dict[str, Any] = {"url": "about:blank"}
        if context:
            params["browserContextId"] = context
        target = self.send("Target.createTarget", params)["targetId"]
        session = self.send(
            "Target.attachToTarget", {"targetId": target, "flatten": True}
        )["sessionId"]
        page = Page(self, target, session, context)
        self.pages.append(page)
        page.send("Page.enable")
        page.send("Runtime.enable")
        if network:
            page.send("Network.enable")
            if not cache:
                page.send("Network.setCacheDisabled", {"cacheDisabled": True})
        return page


class Page:
    """One tab, attached with its own DevTools session. Made by Browser.new_page."""

    def __init__(self, browser: Browser, target: str, session: str, context: str):
        self.browser = browser
        self.target_id = target
        self.session = session
        self.context = context
        self.closed = False

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float = COMMAND_TIMEOUT,
    ) -> dict[str, Any]:
        return self.browser.send(method, params, session=self.session, timeout=timeout)

    # -- events --------------------------------------------------------------

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event of this page so far, as ``{"method", "params"}`` dicts."""
        return self.browser.events(self.session)

    def event_params(self, method: str) -> list[dict[str, Any]]:
        """The params of this page's ``method`` events so far."""
        return [e.get("params", {}) for e in self.events if e["method"] == method]

    def clear_events(self) -> None:
        self.events.clear()

    @property
    def responses(self) -> list[dict[str, Any]]:
        """``Network.responseReceived`` params: ``response.url``, ``.status``..."""
        return self.event_params("Network.responseReceived")

    @property
    def failures(self) -> list[dict[str, Any]]:
        """``Network.loadingFailed`` params (``errorText``, ``requestId``)."""
        return self.event_params("Network.loadingFailed")

    @property
    def console(self) -> list[str]:
        """console.* messages and uncaught exceptions, as text."""
        lines = []
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Runtime.consoleAPICalled":
                args = params.get("args", [])
                text = " ".join(
                    str(a.get("value", a.get("description", ""))) for a in args
                )
                lines.append(f"console.{params.get('type')}: {text}")
            elif event["method"] == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                exception = details.get("exception", {})
                text = exception.get("description") or details.get("text")
                lines.append(f"exception: {text}")
        return lines

    def wait_for_event(
        self, method: str, *, after: int = 0, timeout: float = COMMAND_TIMEOUT
    ) -> dict[str, Any]:
        return self.browser.wait_for_event(
            method, session=self.session, after=after, timeout=timeout
        )

    # -- navigation ------------------------------------------------------------

    @contextmanager
    def expect_navigation(self, timeout: float = COMMAND_TIMEOUT) -> Iterator[None]:
        """Wait, after the block, for the load event of a page it started::

        with page.expect_navigation():
            page.click("button[type=submit]")
        """
        mark = len(self.events)
        yield
        self.wait_for_event("Page.loadEventFired", after=mark, timeout=timeout)

    def goto(self, url: str, timeout: float = COMMAND_TIMEOUT) -> dict[str, Any]:
        """Navigate and wait for the load event (every sub-resource loaded).

        Returns Page.navigate's result; BrowserError if the navigation
        failed (``errorText``, e.g. net::ERR_CONNECTION_REFUSED).
        """
        mark = len(self.events)
        result = self.send("Page.navigate", {"url": url}, timeout=timeout)
        if result.get("errorText"):
            raise BrowserError(f"navigating to {url}: {result['errorText']}")
        self.wait_for_event("Page.loadEventFired", after=mark, timeout=timeout)
        return result

    def reload(self, timeout: float = COMMAND_TIMEOUT) -> None:
        with self.expect_navigation(timeout):
            self.send("Page.reload")

    @property
    def url(self) -> str:
        return str(self.evaluate("location.href"))

    def content(self) -> str:
        """The current DOM as HTML."""
        return str(self.evaluate("document.documentElement.outerHTML"))

    # -- JavaScript --------------------------------------------------------------

    def evaluate(self, expression: str, timeout: float = COMMAND_TIMEOUT) -> Any:
        """The value of a JavaScript expression (promises are awaited), as
        JSON-like Python data; JavaScriptError if it throws."""
        result = self.send(
            "Runtime.evaluate",
            {
                "expression": expression,
                "returnByValue": True,
                "awaitPromise": True,
                "userGesture": True,
                "timeout": int(timeout * 1000),
            },
            timeout=timeout + 1,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            exception = details.get("exception", {})
            text = exception.get("description") or details.get("text")
            raise JavaScriptError(f"{text}\n  in: {expression}")
        return result.get("result", {}).get("value")

    def call(self, function: str, *args: Any) -> Any:
        """``function`` (JavaScript source) applied to JSON-encoded ``args``."""
        encoded = ", ".join(json.dumps(arg) for arg in args)
        return self.evaluate(f"({function})({encoded})")

    def wait_for(
        self, condition: str, timeout: float = COMMAND_TIMEOUT, interval: float = 0.05
    ) -> Any:
        """Poll the JavaScript ``condition`` until it is truthy; its value.

        TimeoutError (with the last value) if it stays falsy ``timeout`` s.
        """
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(condition)
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"still {value!r} after {timeout} s: {condition}")
            self.browser.pump(min(interval, remaining))

    # -- input -------------------------------------------------------------------

    _FIND = """(selector) => {
        const element = document.querySelector(selector);
        if (!element) throw new Error("no element matches " + selector);
        return element;
    }"""

    def exists(self, selector: str) -> bool:
        return bool(self.call("(s) => document.querySelector(s) !== null", selector))

    def text(self, selector: str) -> str:
        """The ``innerText`` of the first element matching ``selector``."""
        return str(self.call(f"(s) => ({self._FIND})(s).innerText", selector))

    def value(self, selector: str) -> Any:
        return self.call(f"(s) => ({self._FIND})(s).value", selector)

    def focus(self, selector: str) -> None:
        self.call(f"(s) => ({self._FIND})(s).focus()", selector)

    def click(self, selector: str) -> None:
        """Click the centre of the element with real mouse events (so a submit
        button submits its form, with itself as the submitter)."""
        box = self.call(
            f"""(s) => {{
                const element = ({self._FIND})(s);
                element.scrollIntoView({{block: "center", inline: "center"}});
                const r = element.getBoundingClientRect();
                return [r.left + r.width / 2, r.top + r.height / 2,
                        r.width, r.height];
            }}""",
            selector,
        )
        x, y, width, height = box
        if width <= 0 or height <= 0:
            raise BrowserError(f"{selector} is not visible; cannot click it")
        base = {"x": x, "y": y, "button": "left", "clickCount": 1}
        self.send("Input.dispatchMouseEvent", {**base, "type": "mouseMoved"})
        self.send("Input.dispatchMouseEvent", {**base, "type": "mousePressed"})
        self.send("Input.dispatchMouseEvent", {**base, "type": "mouseReleased"})

    def type(self, selector: str, text: str) -> None:
        """Focus the element and insert ``text`` at the caret, as an input
        method would (any Unicode: é, 中文, emoji), firing input events."""
        self.focus(selector)
        if text:
            self.send("Input.insertText", {"text": text})

    def set_value(self, selector: str, value: str) -> None:
        """Set an input a user cannot type into as text (date and time
        pickers), firing the input and change events a user's edit would."""
        self.call(
            """(s, v) => {
                const element = document.querySelector(s);
                element.value = v;
                element.dispatchEvent(new Event("input", {bubbles: true}));
                element.dispatchEvent(new Event("change", {bubbles: true}));
            }""",
            selector,
            value,
        )

    def fill(self, selector: str, text: str) -> None:
        """Replace the element's value by ``text``, typed in."""
        self.call(
            f"""(s) => {{
                const element = ({self._FIND})(s);
                element.focus();
                if (element.select) element.select();
            }}""",
            selector,
        )
        if text:
            self.send("Input.insertText", {"text": text})
        else:
            self.call(
                f"""(s) => {{
                    const element = ({self._FIND})(s);
                    element.value = "";
                    element.dispatchEvent(new Event("input", {{bubbles: true}}));
                }}""",
                selector,
            )

    def press(self, key: str) -> None:
        """Press and release a named key: "Enter", "Tab", "Backspace"..."""
        codes = {"Enter": 13, "Tab": 9, "Backspace": 8, "Escape": 27}
        params: dict[str, Any] = {"key": key, "code": key}
        if key in codes:
            params["windowsVirtualKeyCode"] = codes[key]
        if key == "Enter":
            params["text"] = "\r"
        self.send("Input.dispatchKeyEvent", {**params, "type": "keyDown"})
        self.send("Input.dispatchKeyEvent", {**params, "type": "keyUp"})

    def submit(self, form_selector: str, timeout: float = COMMAND_TIMEOUT) -> None:
        """Submit the form as a user would (validation, submit event) and
        wait for the page that answers it to load."""
        with self.expect_navigation(timeout):
            self.call(f"(s) => ({self._FIND})(s).requestSubmit()", form_selector)

    # -- pictures and closing ------------------------------------------------------

    def screenshot(self, path: str | os.PathLike[str] | None = None) -> bytes:
        """A PNG of the viewport; written to ``path`` if given. Returns it."""
        data = base64.b64decode(
            self.send("Page.captureScreenshot", {"format": "png"})["data"]
        )
        if path is not None:
            Path(path).write_bytes(data)
        return data

    def set_viewport(self, width: int, height: int, scale: float = 1) -> None:
        """Make the viewport ``width`` x ``height`` CSS pixels (screenshots are
        that size times ``scale``)."""
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": width,
                "height": height,
                "deviceScaleFactor": scale,
                "mobile": False,
            },
        )

    def close(self) -> None:
        """Close the tab (as a user closing it) and its browser context."""
        if self.closed:
            return
        self.closed = True
        if self in self.browser.pages:
            self.browser.pages.remove(self)
        self.browser.send("Target.closeTarget", {"targetId": self.target_id})
        self.browser._forget(self.session)
        if self.context:
            self.browser.send(
                "Target.disposeBrowserContext", {"browserContextId": self.context}
            )

    def __enter__(self) -> Page:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# -- PNG reading, for checking screenshots -----------------------------------------


def read_png(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """Decode an 8-bit, non-interlaced PNG (as Chromium writes them) into
    ``(width, height, channels, rows)``; each row holds raw pixel bytes.

    ValueError for anything else.
    """
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    position = 8
    header = b""
    compressed = bytearray()
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        chunk = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            compressed += chunk
        elif kind == b"IEND":
            break
    if len(header) != 13:
        raise ValueError("PNG without IHDR")
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color)
    if depth != 8 or interlace or channels is None:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {color}")
    raw = zlib.decompress(bytes(compressed))
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        row = bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(kind, row, previous, channels)
        rows.append(bytes(row))
        previous = row
    return width, height, channels, rows


def _unfilter(kind: int, row: bytearray, previous: bytearray, bpp: int) -> None:
    if kind == 0:
        return
    if kind == 2:  # Up
        row[:] = bytes((a + b) & 0xFF for a, b in zip(row, previous))
        return
    if kind == 1:  # Sub: a running sum along each channel
        for channel in range(bpp):
            row[channel::bpp] = bytes(
                accumulate(row[channel::bpp], lambda a, b: (int(a) + b) & 0xFF)
            )
        return
    for i in range(len(row)):
        left = row[i - bpp] if i >= bpp else 0
        up = previous[i]
        if kind == 3:  # Average
            row[i] = (row[i] + ((left + up) >> 1)) & 0xFF
        elif kind == 4:  # Paeth
            corner = previous[i - bpp] if i >= bpp else 0
            guess = left + up - corner
            pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
            if pa <= pb and pa <= pc:
                predictor = left
            elif pb <= pc:
                predictor = up
            else:
                predictor = corner
            row[i] = (row[i] + predictor) & 0xFF
        else:
            raise ValueError(f"bad PNG filter {kind}")


def png_colours(data: bytes) -> set[bytes]:
    """The distinct pixel values of a PNG (each as ``channels`` bytes)."""
    width, _height, channels, rows = read_png(data)
    colours: set[bytes] = set()
    for row in rows:
        colours.update(
            row[i : i + channels] for i in range(0, width * channels, channels)
        )
    return colours


def _main() -> None:  # pragma: no cover - a manual check: python3 browser.py URL
    url = sys.argv[1] if len(sys.argv) > 1 else "about:blank"
    with Browser() as browser:
        print(browser.version.get("product"), browser.executable)
        page = browser.new_page()
        page.goto(url)
        print(page.evaluate("document.title"))


if __name__ == "__main__":  # pragma: no cover
    _main()
