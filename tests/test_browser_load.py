"""A real headless Chromium against kali's server loop.

A browser opens several connections at once, some of them speculative and
idle; a single-threaded server must still serve a page with many
sub-resources completely and fast. Here: a page with 20 sub-resources (10
images, 5 scripts, 5 stylesheets), loaded as is and while an idle TCP
connection is held open to the server for the whole load.
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from browser import Page, png_colours, read_png

from kali.request import Request
from kali.response import Response
from kali.server import Server

pytestmark = pytest.mark.browser

#: Generous for a loopback page load that takes ~0.1-0.3 s; an idle
#: connection that stalled the loop would cost at least the 0.5 s
#: first-packet timeout per stall, a kernel-deferred one nothing.
LOAD_SECONDS = 4.0
SCRIPTS = STYLES = 5
PNGS = SVGS = 5

RED, BLUE, GREEN, WHITE = (255, 0, 0), (0, 0, 255), (0, 160, 0), (255, 255, 255)


def make_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def make_svg(width: int, colour: str) -> bytes:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="10">'
        f'<rect width="{width}" height="10" fill="{colour}"/></svg>'
    ).encode()


class Site:
    """The handler: one page and its 20 sub-resources under ``/<run>/``,
    each a distinct URL; it records every path it is asked for."""

    def __init__(self, run: str) -> None:
        self.run = run
        self.files: dict[str, tuple[str, bytes]] = {}
        self.seen: list[str] = []
        self.lock = threading.Lock()
        links, scripts, images, boxes = [], [], [], []
        for i in range(STYLES):
            path = f"/{run}/style{i}.css"
            css = f"#box{i} {{ width: {20 + i}px; height: 4px; background: #888 }}"
            self.files[path] = ("text/css; charset=utf-8", css.encode())
            links.append(f'<link rel="stylesheet" href="{path}">')
            boxes.append(f'<div id="box{i}"></div>')
        for i in range(SCRIPTS):
            path = f"/{run}/script{i}.js"
            js = f"window.ran = (window.ran || []).concat([{i}]);"
            self.files[path] = ("text/javascript; charset=utf-8", js.encode())
            scripts.append(f'<script src="{path}"></script>')
        for i in range(PNGS):
            path = f"/{run}/image{i}.png"
            self.files[path] = ("image/png", make_png(30 + i, 30, GREEN))
            images.append(f'<img src="{path}" data-width="{30 + i}">')
        for i in range(SVGS):
            path = f"/{run}/vector{i}.svg"
            self.files[path] = ("image/svg+xml", make_svg(40 + i, "#00c"))
            images.append(f'<img src="{path}" data-width="{40 + i}">')
        self.page = f"/{run}/"
        html = (
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
            "<title>twenty</title>\n" + "\n".join(links) + "\n</head>\n"
            '<body style="margin: 0; background: #fff">\n'
            '<div style="width: 60px; height: 60px; background: #f00"></div>\n'
            + "\n".join(boxes + images + scripts)
            + "\n</body></html>\n"
        )
        self.files[self.page] = ("text/html; charset=utf-8", html.encode())

    @property
    def subresources(self) -> int:
        return len(self.files) - 1

    def __call__(self, request: Request) -> Response:
        path = request.url.path
        with self.lock:
            self.seen.append(path)
        if path not in self.files:
            return Response("not here", code=404)
        content_type, body = self.files[path]
        return Response(
            body,
            headers=[("content-type", content_type), ("cache-control", "no-store")],
        )


PAGE_CHECK = """(() => {
    const boxes = [...document.querySelectorAll("div[id^=box]")];
    return {
        ran: (window.ran || []).slice().sort(),
        widths: boxes.map(box => getComputedStyle(box).width),
        images: [...document.images].map(img =>
            [img.complete, img.naturalWidth, Number(img.dataset.width)]),
        sheets: document.styleSheets.length,
        state: document.readyState,
    };
})()"""


def check_complete(page: Page, site: Site) -> None:
    result = page.evaluate(PAGE_CHECK)
    assert result["state"] == "complete"
    assert result["ran"] == list(range(SCRIPTS))
    assert result["sheets"] == STYLES
    assert result["widths"] == [f"{20 + i}px" for i in range(STYLES)]
    assert len(result["images"]) == PNGS + SVGS
    for complete, natural_width, width in result["images"]:
        assert complete and natural_width == width > 0
    with site.lock:
        mine = sorted(path for path in site.seen if path.startswith(site.page))
    assert mine == sorted(site.files), "each URL requested exactly once"
    assert len(mine) == 1 + site.subresources == 21
    ours = [r for r in page.responses if f"/{site.run}/" in r["response"]["url"]]
    assert [r["response"]["status"] for r in ours] == [200] * 21
    assert page.failures == []
    assert not page.console, page.console


@pytest.mark.parametrize("idle_connections", [0, 1], ids=["plain", "idle-socket"])
def test_page_with_twenty_subresources_loads_completely(
    page: Page, kali_server: Callable[..., Server], idle_connections: int
) -> None:
    site = Site(f"run{idle_connections}")
    server = kali_server(site)
    idle = [
        socket.create_connection(("127.0.0.1", server.port), timeout=2)
        for _ in range(idle_connections)
    ]
    try:
        started = time.monotonic()
        page.goto(server.url + site.page.lstrip("/"), timeout=LOAD_SECONDS + 5)
        elapsed = time.monotonic() - started
        check_complete(page, site)
        assert elapsed < LOAD_SECONDS, f"the load took {elapsed:.2f} s"
        # On Linux (TCP_DEFER_ACCEPT) the idle connections were never even
        # accepted: still open and silent after the whole load.
        for sock in idle if sys.platform == "linux" else ():
            sock.settimeout(0)
            with pytest.raises(BlockingIOError):
                sock.recv(1)
    finally:
        for sock in idle:
            sock.close()


def test_screenshot_shows_the_page(
    page: Page, kali_server: Callable[..., Server], tmp_path: Path
) -> None:
    site = Site("shot")
    server = kali_server(site)
    page.set_viewport(320, 240)
    page.goto(server.url + site.page.lstrip("/"))
    check_complete(page, site)
    path = tmp_path / "page.png"
    page.screenshot(path)
    data = path.read_bytes()
    width, height, channels, _rows = read_png(data)
    assert (width, height) == (320, 240)
    colours = {colour[:3] for colour in png_colours(data)}
    assert len(colours) > 1
    # The page's own red square, its white background, and the images the
    # kali server sent (green PNGs, blue SVGs) are all on the screen.
    for rgb in (RED, WHITE, GREEN, (0, 0, 0xCC)):
        assert bytes(rgb) in colours, rgb
