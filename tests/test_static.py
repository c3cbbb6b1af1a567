"""StaticFolder: types, validators, 304, ranges, listings, and no way out."""

import email.utils
import os
import socket
import sys
import time

import pytest

from kali.errors import HTTPError
from kali.request import Request
from kali.routing import Router
from kali.static import StaticFolder, content_type_for, is_windows_trap, refusal
from kali.testing import Client

SECRET = b"TOP-SECRET-BYTES"
HELLO = b"Hello, static world!\n"


@pytest.fixture
def tree(tmp_path):
    """tmp_path/secret.txt (outside) and tmp_path/site (the folder served)."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    site = tmp_path / "site"
    site.mkdir()
    (site / "hello.txt").write_bytes(HELLO)
    (site / "page.html").write_text("<h1>hi</h1>", encoding="utf-8")
    (site / "style.css").write_text("p{}", encoding="utf-8")
    (site / "app.js").write_text("1", encoding="utf-8")
    (site / "data.unknownext").write_bytes(b"\x00\x01")
    (site / "movie.mp4").write_bytes(bytes(range(256)) * 4)
    (site / ".hidden").write_bytes(SECRET)
    (site / "_private").write_bytes(SECRET)
    (site / "sub").mkdir()
    (site / "sub" / "inner.txt").write_bytes(b"inner")
    (site / "sub" / ".git").mkdir()
    (site / "sub dir").mkdir()
    (site / "sub dir" / "<b>x&y.txt").write_bytes(b"odd name")
    (site / "b-file").write_bytes(b"b")
    (site / "a-dir").mkdir()
    if hasattr(os, "symlink"):
        try:
            os.symlink(tmp_path / "secret.txt", site / "link_out")
            os.symlink(outside, site / "dirlink_out")
            os.symlink(site / "hello.txt", site / "link_in")
            os.symlink(site / "_private", site / "link_private")
        except OSError:  # Windows without the privilege
            pass
    return tmp_path


@pytest.fixture
def client(tree):
    router = Router()
    router.delegate_folder("/files/", StaticFolder(tree / "site"))
    return Client(router)


def assert_nothing_leaked(answer):
    assert SECRET not in answer.body
    assert b"secret" not in answer.body.lower()


# -- files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, kind",
    [
        ("hello.txt", "text/plain; charset=utf-8"),
        ("page.html", "text/html; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("movie.mp4", "video/mp4"),
        ("data.unknownext", "application/octet-stream"),
    ],
)
def test_content_types(client, name, kind):
    answer = client.get("/files/" + name)
    assert answer.status == 200
    assert answer.headers["content-type"] == kind


def test_content_type_helper():
    assert content_type_for("a.JSON") == "application/json; charset=utf-8"
    assert content_type_for("a.tar.gz") == "application/gzip"
    assert content_type_for("a.svg") == "image/svg+xml"
    assert content_type_for("noext") == "application/octet-stream"
    assert (
        content_type_for("a.dat", {".dat": "text/x-dat"}) == "text/x-dat; charset=utf-8"
    )


def test_extra_content_types(tree):
    folder = StaticFolder(tree / "site", content_types={".UNKNOWNEXT": "image/x-test"})
    router = Router()
    router.delegate_folder("/", folder)
    answer = Client(router).get("/data.unknownext")
    assert answer.headers["content-type"] == "image/x-test"


def test_file_headers_and_body(client, tree):
    answer = client.get("/files/hello.txt")
    assert answer.body == HELLO
    assert answer.headers["content-length"] == str(len(HELLO))
    info = os.stat(tree / "site" / "hello.txt")
    assert answer.headers["etag"] == f'"{info.st_size:x}-{info.st_mtime_ns:x}"'
    assert answer.headers["last-modified"] == email.utils.formatdate(
        info.st_mtime, usegmt=True
    )
    assert answer.headers["accept-ranges"] == "bytes"
    assert answer.headers["cache-control"] == "no-cache"
    assert answer.response.file_span is not None  # sent with sendfile


def test_etag_changes_with_the_file(client, tree):
    first = client.get("/files/hello.txt").headers["etag"]
    path = tree / "site" / "hello.txt"
    path.write_bytes(HELLO + b"more")
    assert client.get("/files/hello.txt").headers["etag"] != first


def test_head_sends_headers_only(client):
    get = client.get("/files/hello.txt")
    head = client.head("/files/hello.txt")
    assert head.status == 200 and head.body == b""
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.headers["etag"] == get.headers["etag"]
    listing = client.head("/files/")
    assert listing.status == 200 and listing.body == b""
    assert client.head("/files/missing").status == 404


@pytest.mark.parametrize("method, status", [("POST", 405), ("PUT", 405), ("BREW", 501)])
def test_only_get_and_head(client, method, status):
    answer = client.request(method, "/files/hello.txt")
    assert answer.status == status
    if status == 405:
        assert answer.headers["allow"] == "GET, HEAD"


def test_missing_and_file_with_slash_are_404(client):
    assert client.get("/files/nope.txt").status == 404
    assert client.get("/files/hello.txt/").status == 404
    assert client.get("/files/" + "x" * 5000).status == 404


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_404_and_never_opened(client, tree):
    os.mkfifo(tree / "site" / "pipe")
    started = time.monotonic()
    assert client.get("/files/pipe").status == 404
    assert time.monotonic() - started < 2


# -- conditional requests --------------------------------------------------------------


def test_if_none_match(client):
    etag = client.get("/files/hello.txt").headers["etag"]
    for value in (etag, f'"nope", {etag}', f"W/{etag}", "*"):
        answer = client.get("/files/hello.txt", headers={"If-None-Match": value})
        assert answer.status == 304, value
        assert answer.body == b""
        assert answer.headers["etag"] == etag
        assert "last-modified" in answer.headers
        assert "content-length" not in answer.headers
    other = client.get("/files/hello.txt", headers={"If-None-Match": '"other"'})
    assert other.status == 200 and other.body == HELLO


def test_if_modified_since(client, tree):
    path = tree / "site" / "hello.txt"
    mtime = time.time() - 86400  # a day old, so that "later" is still past
    os.utime(path, (mtime, mtime))
    same = email.utils.formatdate(mtime, usegmt=True)
    later = email.utils.formatdate(mtime + 3600, usegmt=True)
    earlier = email.utils.formatdate(mtime - 3600, usegmt=True)
    for value, status in ((same, 304), (later, 304), (earlier, 200), ("garbage", 200)):
        answer = client.get("/files/hello.txt", headers={"If-Modified-Since": value})
        assert answer.status == status, value
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
    answer = client.get(
        "/files/hello.txt",
        headers={"If-None-Match": '"other"', "If-Modified-Since": later},
    )
    assert answer.status == 200
    assert (
        client.head("/files/hello.txt", headers={"If-Modified-Since": same}).status
        == 304
    )


# -- ranges ----------------------------------------------------------------------------

MOVIE = bytes(range(256)) * 4  # 1024 bytes


@pytest.mark.parametrize(
    "spec, start, stop",
    [
        ("bytes=0-9", 0, 10),
        ("bytes=1000-", 1000, 1024),
        ("bytes=-24", 1000, 1024),
        ("bytes=-5000", 0, 1024),
        ("bytes=1020-5000", 1020, 1024),
        ("BYTES = 5 - 5", 5, 6),
    ],
)
def test_single_range_is_206(client, spec, start, stop):
    answer = client.get("/files/movie.mp4", headers={"Range": spec})
    assert answer.status == 206
    assert answer.body == MOVIE[start:stop]
    assert answer.headers["content-range"] == f"bytes {start}-{stop - 1}/1024"
    assert answer.headers["content-length"] == str(stop - start)
    assert answer.headers["content-type"] == "video/mp4"


@pytest.mark.parametrize("spec", ["bytes=1024-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable_range_is_416(client, spec):
    answer = client.get("/files/movie.mp4", headers={"Range": spec})
    assert answer.status == 416
    assert answer.headers["content-range"] == "bytes */1024"


@pytest.mark.parametrize(
    "spec",
    [
        "bytes=0-1,5-6",  # several ranges: the whole file
        "bytes=abc",
        "bytes=9-3",
        "items=0-1",
        "bytes=-",
        "bytes=" + "9" * 5000 + "-",
    ],
)
def test_other_ranges_get_the_whole_file(client, spec):
    answer = client.get("/files/movie.mp4", headers={"Range": spec})
    assert answer.status == 200
    assert answer.body == MOVIE


def test_if_range(client, tree):
    etag = client.get("/files/movie.mp4").headers["etag"]
    mtime = os.stat(tree / "site" / "movie.mp4").st_mtime
    date = email.utils.formatdate(mtime, usegmt=True)
    for if_range, status in ((etag, 206), ('"stale"', 200), (date, 206), ("junk", 200)):
        answer = client.get(
            "/files/movie.mp4", headers={"Range": "bytes=0-0", "If-Range": if_range}
        )
        assert answer.status == status, if_range


def test_range_on_empty_file(client, tree):
    (tree / "site" / "empty.txt").write_bytes(b"")
    assert client.get("/files/empty.txt").body == b""
    answer = client.get("/files/empty.txt", headers={"Range": "bytes=0-"})
    assert answer.status == 416


# -- traversal -------------------------------------------------------------------------

TRAVERSALS = [
    "/files/../secret.txt",
    "/files/../../secret.txt",
    "/files/%2e%2e/secret.txt",
    "/files/%2E%2E/%2e%2e/secret.txt",
    "/files/..%2Fsecret.txt",
    "/files/..%2F..%2F..%2Fsecret.txt",
    "/files/..%5Csecret.txt",
    "/files/%5C..%5Csecret.txt",
    "/files/sub/..%5C..%5Csecret.txt",
    "/files/%00",
    "/files/hello.txt%00.png",
    "/files/C:%5Csecret.txt",
    "/files/C:/secret.txt",
    "/files/c:secret.txt",
    "/files/hello.txt:stream",
    "/files//etc/passwd",
    "/files/%2Fetc%2Fpasswd",
    "/files/%2F%2Fetc/passwd",
    "/files/" + "%2e%2e%2f" * 8 + "etc/passwd",
    "/files/link_out",
    "/files/dirlink_out/secret.txt",
    "/files/dirlink_out/",
    "/files/.%2e/secret.txt",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_through_the_router(client, path):
    answer = client.get(path, follow_redirects=True)
    assert answer.status == 404, path
    assert_nothing_leaked(answer)


@pytest.mark.parametrize(
    "suffix",
    [
        ["..", "secret.txt"],
        [".", "hello.txt"],
        ["", "hello.txt"],
        ["sub", "", "inner.txt"],
        ["..\\secret.txt"],
        ["hello.txt\x00"],
        ["C:", "secret.txt"],
        ["C:\\secret.txt"],
        ["link_out"],
        ["dirlink_out", "secret.txt"],
        ["dirlink_out", ""],
        ["/etc", "passwd"],
    ],
)
def test_traversal_straight_to_the_folder(tree, suffix):
    """Called without a Router (so nothing was normalized): still 404."""
    if "link" in suffix[0] and not os.path.islink(tree / "site" / suffix[0]):
        pytest.skip("no symlinks here")
    folder = StaticFolder(tree / "site")
    request = Request("GET", "/x", "HTTP/1.0")
    request.path = ["files", *suffix]
    request.mount_depth = 1
    with pytest.raises(HTTPError) as caught:
        folder(request)
    assert caught.value.status == 404
    assert "secret" not in caught.value.message.lower()


def test_absolute_component_is_refused(tree):
    absolute = str(tree / "secret.txt").lstrip("/")
    assert refusal(absolute) in (0, 404)  # it's just a relative name here
    folder = StaticFolder(tree / "site")
    request = Request("GET", "/x", "HTTP/1.0")
    request.path = ["files", *absolute.split("/")]
    request.mount_depth = 1
    with pytest.raises(HTTPError) as caught:
        folder(request)
    assert caught.value.status == 404


def test_symlink_inside_the_folder_is_served(client, tree):
    if not os.path.islink(tree / "site" / "link_in"):
        pytest.skip("no symlinks here")
    assert client.get("/files/link_in").body == HELLO
    assert client.get("/files/link_private").status == 403


@pytest.mark.parametrize(
    "path", ["/files/.hidden", "/files/_private", "/files/sub/.git/", "/files/_x/y"]
)
def test_private_names_are_403(client, path):
    answer = client.get(path)
    assert answer.status == 403
    assert_nothing_leaked(answer)


@pytest.mark.parametrize(
    "name, trap",
    [
        ("CON", True),
        ("con.txt", True),
        ("Aux", True),
        ("nul.tar.gz", True),
        ("COM1", True),
        ("lpt9.log", True),
        ("COM¹", True),
        ("CON .txt", True),
        ("file.", True),
        ("file ", True),
        ("console", False),
        ("COM10", False),
        ("hello.txt", False),
    ],
)
def test_windows_traps(name, trap):
    assert is_windows_trap(name) is trap
    assert refusal(name, windows=True) == (404 if trap else 0)
    assert refusal(name, windows=False) == 0


@pytest.mark.parametrize(
    "component, status",
    [("", 404), (".", 404), ("..", 404), ("a\\b", 404), ("a:b", 404), ("a\x00", 404),
     (".x", 403), ("_x", 403), ("x", 0)],
)  # fmt: skip
def test_refusal(component, status):
    assert refusal(component) == status


# -- listings --------------------------------------------------------------------------


def test_listing(client):
    answer = client.get("/files/")
    assert answer.status == 200
    assert "<title>Showing Folder /files</title>" in answer.text
    items = [line for line in answer.text.split("\r\n") if "<li>" in line]
    names = [
        '<a href="..">..</a>',
        '<a href="a-dir/">a-dir/</a>',
        '<a href="app.js">app.js</a>',
        '<a href="b-file">b-file</a>',
    ]
    for expected, line in zip(names, items):
        assert expected in line
    assert '<a href="sub%20dir/">sub dir/</a>' in answer.text
    assert "hidden" not in answer.text and "_private" not in answer.text
    assert "link_out" not in answer.text and "dirlink_out" not in answer.text
    shown = [line.split(">")[2].split("<")[0].rstrip("/") for line in items]
    assert shown == sorted(shown)


def test_listing_escapes_names_and_encodes_hrefs(client):
    answer = client.get("/files/sub%20dir/")
    assert "<title>Showing Folder /files/sub dir</title>" in answer.text
    assert '<a href="%3Cb%3Ex%26y.txt">&lt;b&gt;x&amp;y.txt</a>' in answer.text
    assert "<b>x" not in answer.text
    assert client.get("/files/sub%20dir/%3Cb%3Ex%26y.txt").body == b"odd name"


def test_listing_up_link_rule(tree):
    router = Router()
    router.delegate_folder("/", StaticFolder(tree / "site"))
    client = Client(router)
    assert '<a href="..">' not in client.get("/").text
    assert '<a href="..">' in client.get("/sub/").text


def test_index_file_and_no_listing(tree):
    (tree / "site" / "sub" / "index.html").write_text("<p>index</p>", encoding="utf-8")
    router = Router()
    router.delegate_folder("/a/", StaticFolder(tree / "site", index="index.html"))
    router.delegate_folder("/b/", StaticFolder(tree / "site", listing=False))
    client = Client(router)
    assert client.get("/a/sub/").text == "<p>index</p>"
    assert "Showing Folder" in client.get("/a/").text  # no index there
    assert client.get("/b/").status == 404
    assert client.get("/b/hello.txt").body == HELLO


def test_delegate_without_folder_shim_redirects(tree):
    router = Router()
    router.delegate("/raw", StaticFolder(tree / "site"))
    answer = Client(router).get("/raw?x=1")
    assert answer.status == 302 and answer.location == "/raw/?x=1"


def test_missing_root_is_404(tmp_path):
    router = Router()
    router.delegate_folder("/", StaticFolder(tmp_path / "nowhere"))
    client = Client(router)
    assert client.get("/").status == 404
    assert client.get("/x").status == 404


# -- over a real socket ----------------------------------------------------------------


def vm_rss_kib():
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def fetch(port, raw_request, *, sink=None, buffer=None):
    """Send one request to 127.0.0.1:port; return (head bytes, body bytes or
    the body size when ``sink`` is given: a callback for each chunk)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(raw_request)
        view = memoryview(buffer if buffer is not None else bytearray(1 << 20))
        data = bytearray()
        head = None
        size = 0
        while True:
            count = conn.recv_into(view)
            if not count:
                break
            if head is None:
                data += view[:count]
                if b"\r\n\r\n" in data:
                    head, _, rest = bytes(data).partition(b"\r\n\r\n")
                    data = bytearray(rest) if sink is None else bytearray()
                    size = len(rest)
                    if sink:
                        sink(rest)
                continue
            size += count
            if sink is None:
                data += view[:count]
            else:
                sink(view[:count])
        return head, (size if sink else bytes(data))


def test_real_socket_304_206_and_head(kali_server, tree):
    router = Router()
    router.delegate_folder("/", StaticFolder(tree / "site"))
    server = kali_server(router)
    host = f"Host: 127.0.0.1:{server.port}\r\n".encode()
    head, body = fetch(server.port, b"GET /movie.mp4 HTTP/1.1\r\n" + host + b"\r\n")
    assert head.startswith(b"HTTP/1.0 200 ") and body == MOVIE
    etag = [line for line in head.split(b"\r\n") if line.startswith(b"etag:")][0][6:]
    head, body = fetch(
        server.port,
        b"GET /movie.mp4 HTTP/1.1\r\n" + host + b"If-None-Match: " + etag + b"\r\n\r\n",
    )
    assert head.startswith(b"HTTP/1.0 304 ") and body == b""
    head, body = fetch(
        server.port, b"GET /movie.mp4 HTTP/1.1\r\n" + host + b"Range: bytes=-4\r\n\r\n"
    )
    assert head.startswith(b"HTTP/1.0 206 ") and body == MOVIE[-4:]
    assert b"content-range: bytes 1020-1023/1024" in head
    head, body = fetch(server.port, b"HEAD /movie.mp4 HTTP/1.1\r\n" + host + b"\r\n")
    assert b"content-length: 1024" in head and body == b""
    head, body = fetch(
        server.port, b"GET /%2e%2e/secret.txt HTTP/1.1\r\n" + host + b"\r\n"
    )
    assert head.startswith(b"HTTP/1.0 404 ") and SECRET not in body


BIG = 200 * 1024 * 1024


def test_200_mb_file_streams_with_flat_memory(kali_server, tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as handle:  # sparse: costs no disk
        handle.seek(BIG - 3)
        handle.write(b"END")
    router = Router()
    router.delegate_folder("/", StaticFolder(tmp_path))
    server = kali_server(router)
    request = f"GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n"
    buffer = bytearray(4 * 1024 * 1024)  # the client's, allocated up front
    # Warm up (first-use imports, the mimetypes tables), then measure.
    fetch(server.port, request.replace("GET", "HEAD").encode(), buffer=buffer)
    baseline = vm_rss_kib()
    peak = [baseline or 0]
    tail = bytearray(3)
    sampled = [0]

    def sink(chunk):
        sampled[0] += len(chunk)
        if sampled[0] >= 8 * 1024 * 1024:
            sampled[0] = 0
            rss = vm_rss_kib()
            if rss is not None:
                peak[0] = max(peak[0], rss)
        if len(chunk) >= 3:
            tail[:] = chunk[-3:]
        else:
            tail[:] = tail[len(chunk) :] + chunk

    started = time.monotonic()
    head, size = fetch(server.port, request.encode(), sink=sink, buffer=buffer)
    elapsed = time.monotonic() - started
    assert head.startswith(b"HTTP/1.0 200 ")
    assert f"content-length: {BIG}".encode() in head
    assert size == BIG and bytes(tail) == b"END"
    after = vm_rss_kib()
    if baseline is None or after is None or not sys.platform.startswith("linux"):
        return  # RSS is only measured on Linux
    peak[0] = max(peak[0], after)
    growth_mib = (peak[0] - baseline) / 1024
    assert growth_mib < 10, f"RSS grew {growth_mib:.1f} MiB in {elapsed:.1f} s"
