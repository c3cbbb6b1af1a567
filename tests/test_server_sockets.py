"""The server loop over real loopback sockets (127.0.0.1, port 0)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from kali.connection import NO_WAIT, WOULD_WAIT, can_skip_waits
from kali.launch import serve_http
from kali.protocol import Limits
from kali.response import Response
from kali.server import Server, Timeouts

LINUX = sys.platform == "linux"
CORPUS = Path(__file__).resolve().parent / "corpus" / "gunicorn-invalid"


def app(request):
    if request.path == ["boom"]:
        raise RuntimeError("secret-detail")
    if request.path == ["stop"]:
        return Response("bye", shut_down=True)
    if request.path == ["big"]:
        return [b"0123456789abcdef" * 4096 for _ in range(80)]  # 5 MiB
    if request.path == ["echo"]:
        return Response.plain_text(
            [
                request.command,
                " ",
                repr(sorted(request.POST.items())),
                " ",
                str(len(request.body)),
            ]
        )
    return ["hello ", "world"]


@pytest.fixture
def serve():
    started = []

    def start(handler=app, **options):
        server = Server(handler, port=0, **options)
        server.bind()
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((server, thread))
        return server

    yield start
    for server, thread in started:
        server.stop()
        thread.join(10)
        assert not thread.is_alive()


def connect(server, timeout=10.0):
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def exchange(server, data: bytes, timeout=10.0) -> bytes:
    with connect(server, timeout) as sock:
        sock.sendall(data)
        return read_all(sock)


def read_all(sock) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1]) if reply else 0


def header_lines(head: bytes, prefix: bytes) -> list:
    return [line for line in head.split(b"\r\n") if line.startswith(prefix)]


def get(server, path="/", extra=b"") -> bytes:
    return exchange(
        server, b"GET " + path.encode() + b" HTTP/1.0\r\n" + extra + b"\r\n"
    )


def assert_alive(server):
    assert get(server).startswith(b"HTTP/1.0 200 OK\r\n")


def test_get_http10_and_http11(serve):
    server = serve()
    reply = get(server)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK\r\n")
    assert b"content-type: text/html; charset=utf-8" in head
    assert b"content-length: 11" in head and body == b"hello world"
    reply = exchange(server, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert status(reply) == 200


def test_idle_connection_does_not_delay_another_client(serve):
    # A first-packet timeout of 5 s: only TCP_DEFER_ACCEPT (Linux) can answer
    # the second client before the idle one times out.
    server = serve(timeout=5.0 if LINUX else 0.5)
    with connect(server) as idle:
        started = time.monotonic()
        assert_alive(server)
        elapsed = time.monotonic() - started
        if LINUX:
            assert elapsed < 2.0
        idle.settimeout(0.2)
        with pytest.raises(socket.timeout):
            idle.recv(1)  # still open, untouched


def test_twenty_idle_connections_then_a_get(serve):
    server = serve()
    idles = [connect(server) for _ in range(20)]
    try:
        started = time.monotonic()
        assert_alive(server)
        if LINUX:
            assert time.monotonic() - started < 1.0
    finally:
        for sock in idles:
            sock.close()
    assert_alive(server)


@pytest.mark.skipif(not LINUX, reason="TCP_DEFER_ACCEPT is Linux-only")
def test_request_sent_two_seconds_after_connecting_is_answered(serve):
    server = serve()
    with connect(server) as late:
        time.sleep(2.0)
        late.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert status(read_all(late)) == 200


def test_silent_connection_is_closed_without_a_reply(serve):
    server = serve(timeout=0.3)
    with connect(server) as sock:
        sock.sendall(b"")  # nothing at all
        if LINUX:
            # Deferred: it never reaches accept(); another client still works.
            assert_alive(server)
        else:
            assert read_all(sock) == b""


def test_split_packets_do_not_stall(serve):
    server = serve()
    with connect(server) as sock:
        for piece in (b"GET / HT", b"TP/1.1\r\nHo", b"st: localhost\r", b"\n\r\n"):
            sock.sendall(piece)
            time.sleep(0.05)
        assert status(read_all(sock)) == 200


def test_dribbling_client_is_cut_off_at_the_head_deadline(serve):
    server = serve(timeouts=Timeouts(head_total=1.0, head_gap=0.5))
    with connect(server) as sock:
        started = time.monotonic()
        reply = b""
        for byte in b"GET / HTTP/1.0\r\nX-Slow: " + b"a" * 100:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.1)
            if time.monotonic() - started > 3:
                break
        reply = read_all(sock)
        assert status(reply) == 408
        assert time.monotonic() - started < 3
    assert_alive(server)


def test_short_body_then_silence_is_408(serve):
    server = serve(timeouts=Timeouts(body_gap=0.3))
    reply = exchange(
        server,
        b"POST /echo HTTP/1.0\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 10\r\n\r\nabc",
    )
    assert status(reply) == 408
    assert_alive(server)


def test_short_body_then_close_never_reaches_the_app(serve):
    calls = []
    server = serve(lambda request: calls.append(request) or "x")
    with connect(server) as sock:
        sock.sendall(b"POST / HTTP/1.0\r\nContent-Length: 10\r\n\r\nabc")
        sock.shutdown(socket.SHUT_WR)
        assert read_all(sock) == b""
    assert get(server).endswith(b"x") and len(calls) == 1


def test_client_reset_mid_body(serve):
    server = serve()
    sock = connect(server)
    sock.sendall(b"POST /echo HTTP/1.0\r\nContent-Length: 100000\r\n\r\n" + b"x" * 5000)
    sock.setsockopt(
        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
    )
    sock.close()  # RST
    assert_alive(server)


def test_huge_declared_body_is_refused_from_the_header(serve):
    server = serve(limits=Limits(max_body_bytes=10 * 1024 * 1024))
    with connect(server) as sock:
        sock.sendall(b"POST /echo HTTP/1.0\r\nContent-Length: 50000000\r\n\r\n")
        sent = 0
        sock.settimeout(5)
        try:
            while sent < 2_000_000:  # keep sending like a browser would
                sock.sendall(b"x" * 65536)
                sent += 65536
        except OSError:
            pass
        reply = read_all(sock)
    assert status(reply) == 413
    assert_alive(server)


def test_body_is_read_to_exactly_content_length(serve):
    server = serve()
    body = b"a=1&b=%C3%A9"
    reply = exchange(
        server,
        b"POST /echo HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body) + body + b"TRAILING JUNK",
    )
    assert reply.endswith(b"POST [('a', '1'), ('b', '\xc3\xa9')] 12")


def test_big_spooled_body(serve):
    server = serve(limits=Limits(max_form_memory_bytes=1024))
    body = b"z" * 3_000_000
    reply = exchange(
        server,
        b"PUT /echo HTTP/1.0\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body) + body,
    )
    assert reply.endswith(b"PUT [] 3000000")


def test_expect_100_continue(serve):
    server = serve()
    with connect(server) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"abc")
        assert read_all(sock).endswith(b" 3")


def test_large_response_reaches_a_slow_reader_intact(serve):
    server = serve()
    with connect(server) as sock:
        sock.sendall(b"GET /big HTTP/1.0\r\n\r\n")
        chunks = []
        while True:
            chunk = sock.recv(8192)
            if not chunk:
                break
            chunks.append(chunk)
            if len(chunks) % 64 == 0:
                time.sleep(0.05)  # slower than the server writes
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    assert b"content-length: 5242880" in head
    assert body == b"0123456789abcdef" * 4096 * 80


BAD_REQUESTS = [
    (b"GET\r\n\r\n", 400),
    (b"GET /\r\n\r\n", 400),
    (b"GET / HTTP/1.0 extra\r\n\r\n", 400),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
    (b"BREW / HTTP/1.0\r\n\r\n", 501),
    (b"GET / HTTP/2.0\r\n\r\n", 505),
    (b"GET / HTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTP/1.0\r\nHost:x\r\n\r\n", 403),
    (b"GET / HTTP/1.0\r\nX-A: b: c\r\n\r\n", 200),
    (b"GET / HTTP/1.0\r\nNoColon\r\n\r\n", 400),
    (b"GET / HTTP/1.0\r\nX-A : b\r\n\r\n", 400),
    (b"GET / HTTP/1.0\r\nX-A: b\r\n folded\r\n\r\n", 400),
    (b"POST / HTTP/1.0\r\nContent-Length: abc\r\n\r\n", 400),
    (b"POST / HTTP/1.0\r\nContent-Length: -5\r\n\r\n", 400),
    (b"POST / HTTP/1.0\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400),
    (
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    (
        b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    (
        b"POST / HTTP/1.1\r\nHost: localhost\r\n"
        b"Transfer-Encoding: gzip\r\n\r\n0\r\n\r\n",
        501,
    ),
    (
        b"POST / HTTP/1.1\r\nHost: localhost\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nabcdefg\r\n",
        400,
    ),
    (
        b"POST /echo HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded"
        b"\r\nContent-Length: 3\r\n\r\na=\xff",
        400,
    ),
    (
        b"POST /echo HTTP/1.0\r\nContent-Type: multipart/form-data; boundary=zz"
        b"\r\nContent-Length: 9\r\n\r\n--zz\r\nab\r\n",
        400,
    ),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.0\r\n\r\n", 414),
    (b"GET / HTTP/1.0\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", 431),
    (b"GET / HTTP/1.0\r\nX-Big: " + b"a" * 33000 + b"\r\n\r\n", 431),
    (b"GET /%FF HTTP/1.0\r\n\r\n", 400),
    (b"GET http://evil.example/ HTTP/1.0\r\n\r\n", 403),
    (b"GET / HTTP/1.0\r\nHost: evil.example\r\n\r\n", 403),
    (b"GET / HTTP/1.0\r\nCookie: " + b"c" * 12000 + b"\r\n\r\n", 200),
]


@pytest.mark.parametrize(
    "raw, expected", BAD_REQUESTS, ids=[str(i) for i in range(len(BAD_REQUESTS))]
)
def test_wire_table(serve, raw, expected):
    server = serve()
    assert status(exchange(server, raw)) == expected
    assert_alive(server)


def corpus_files():
    return sorted(CORPUS.glob("*.http"))


def test_corpus_is_present():
    assert corpus_files(), f"missing test corpus at {CORPUS}"


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_corpus_over_the_wire(serve, path):
    # The corpus decoder and the per-file verdicts live beside the parser tests.
    from test_corpus import ACCEPTED, load_request

    server = serve(timeouts=Timeouts(head_total=1.0, body_gap=0.5))
    reply = exchange(server, load_request(path))
    if path.name in ACCEPTED:  # valid under kali's limits: answered, not refused
        assert status(reply) in (200, 403), reply[:80]
    else:
        assert reply == b"" or 400 <= status(reply) < 600, reply[:80]
        assert status(reply) != 500
    assert_alive(server)


def test_handler_failure_is_a_500_without_trace(serve, caplog):
    server = serve()
    with caplog.at_level(logging.ERROR, logger="kali"):
        reply = get(server, "/boom")
    assert status(reply) == 500 and b"secret-detail" not in reply
    assert "During GET /boom" in caplog.text and "secret-detail" in caplog.text
    debug = serve(debug=True)
    reply = get(debug, "/boom")
    assert status(reply) == 500 and b"secret-detail" in reply
    assert_alive(server)


def test_head_gets_headers_only_with_the_get_length(serve):
    server = serve()
    for path in ("/", "/missing/..", "/boom"):
        get_reply = get(server, path)
        head_reply = exchange(server, b"HEAD " + path.encode() + b" HTTP/1.0\r\n\r\n")
        head, _, body = head_reply.partition(b"\r\n\r\n")
        assert body == b""
        get_head = get_reply.partition(b"\r\n\r\n")[0]
        assert header_lines(head, b"content-length") == header_lines(
            get_head, b"content-length"
        )


def test_cross_origin_post_is_refused_same_origin_passes(serve):
    server = serve()
    base = (
        b"POST /echo HTTP/1.1\r\nHost: localhost:%d\r\nContent-Length: 0\r\n"
        % server.port
    )
    assert (
        status(exchange(server, base + b"Origin: http://evil.example\r\n\r\n")) == 403
    )
    ours = b"Origin: http://localhost:%d\r\n\r\n" % server.port
    assert status(exchange(server, base + ours)) == 200
    assert status(exchange(server, base + b"\r\n")) == 200


def test_token_is_required_when_asked(serve):
    server = serve(token=True)
    assert status(get(server)) == 403
    launch = server.launch_url("/")
    target = launch.split(str(server.port), 1)[1]
    reply = get(server, target)
    assert status(reply) == 302
    cookie = header_lines(reply.partition(b"\r\n\r\n")[0], b"set-cookie: ")[0]
    pair = cookie[len(b"set-cookie: ") :].split(b";")[0]
    assert status(get(server, "/", b"Cookie: " + pair + b"\r\n")) == 200


def test_shut_down_response_ends_the_loop_and_frees_the_port():
    server = Server(app, port=0)
    server.bind()
    port = server.port
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    reply = exchange(server, b"GET /stop HTTP/1.0\r\n\r\n")
    assert reply.endswith(b"bye")
    thread.join(5)
    assert not thread.is_alive()
    again = Server(app, port=port)
    again.bind()  # re-binds at once
    again.close()


def test_bind_failure_propagates_before_any_browser(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError):
            serve_http(app, port=port, start="")


SCRIPT = textwrap.dedent(
    """
    import logging, sys
    sys.path.insert(0, {root!r})
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from kali import serve_http, Response
    def handle(request):
        return Response("bye", shut_down=True) if request.path == ["stop"] else "hi"
    serve_http(handle, port=0, start={start!r})
    """
)


def start_script(tmp_path, start):
    log = tmp_path / "browser.log"
    stub = tmp_path / "browser.sh"
    stub.write_text(f'#!/bin/sh\necho "$1" >> {log}\n')
    stub.chmod(0o755)
    script = tmp_path / "app.py"
    root = str(Path(__file__).resolve().parents[1])
    script.write_text(SCRIPT.format(root=root, start=start))
    env = dict(os.environ, BROWSER=str(stub))
    process = subprocess.Popen(
        [sys.executable, str(script)], env=env, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if line.startswith("Listening on http://127.0.0.1:"):
            return process, int(line.rsplit(":", 1)[1].strip("/\n")), log
    process.kill()
    process.communicate()
    raise AssertionError("the server did not start")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell browser stub")
@pytest.mark.parametrize("start, opened", [("", "/"), ("/x/y", "/x/y"), (None, None)])
def test_browser_opens_at_start(tmp_path, start, opened):
    process, port, log = start_script(tmp_path, start)
    try:
        if opened is not None:
            deadline = time.monotonic() + 10
            while not log.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert log.read_text().strip() == f"http://127.0.0.1:{port}{opened}"
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /stop HTTP/1.0\r\n\r\n")
            assert read_all(sock).endswith(b"bye")
        assert process.wait(10) == 0
        if opened is None:
            assert not log.exists()
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


@pytest.mark.skipif(
    sys.platform == "win32", reason="SIGINT delivery differs on Windows"
)
def test_ctrl_c_stops_the_server_and_closes_the_socket(tmp_path):
    process, port, _ = start_script(tmp_path, None)
    try:
        process.send_signal(signal.SIGINT)
        assert process.wait(10) != 0  # KeyboardInterrupt propagates
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_call_soon_runs_on_the_server_thread_between_requests(serve):
    server = serve()
    ran = []
    done = threading.Event()

    def task():
        ran.append(threading.current_thread().name)
        done.set()

    server.call_soon(task)
    assert done.wait(5)
    assert ran and ran[0] != threading.current_thread().name
    assert_alive(server)


def test_every_ticks_while_idle_and_can_stop_the_server():
    server = Server(app, port=0)
    server.bind()
    ticks = []

    def tick():
        ticks.append(time.monotonic())
        if len(ticks) == 3:
            server.stop()

    server.every(0.05, tick)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    thread.join(5)
    assert not thread.is_alive() and len(ticks) == 3
    with pytest.raises(ValueError):
        server.every(0, tick)


def test_a_failing_task_is_logged_not_fatal(serve, caplog):
    server = serve()
    done = threading.Event()

    def bad():
        done.set()
        raise RuntimeError("task-broke")

    with caplog.at_level(logging.ERROR, logger="kali"):
        server.call_soon(bad)
        assert done.wait(5)
        assert_alive(server)
    assert "task-broke" in caplog.text


def test_on_ready_sees_the_real_port():
    seen = []

    def ready(server):
        seen.append(server.url)
        server.call_soon(server.stop)

    serve_http(app, port=0, start=None, on_ready=ready)
    assert (
        seen and seen[0].startswith("http://127.0.0.1:") and not seen[0].endswith(":0/")
    )


def test_a_stream_that_fails_midway_resets_the_connection(serve, caplog):
    def broken():
        yield "partial"
        raise RuntimeError("stream-broke")

    def handler(request):
        return Response.stream(broken()) if request.path == ["broken"] else "ok"

    server = serve(handler)
    with caplog.at_level(logging.ERROR, logger="kali"):
        with connect(server) as sock:
            sock.sendall(b"GET /broken HTTP/1.0\r\n\r\n")
            with pytest.raises(ConnectionResetError):
                while sock.recv(65536):
                    pass
        assert_alive(server)
    assert "stream-broke" in caplog.text


def test_timeout_argument_and_timeouts_object():
    assert Server(app).timeouts.first_packet == 0.5
    assert Server(app, timeouts=Timeouts(first_packet=3.0)).timeouts.first_packet == 3.0
    both = Server(app, timeout=1.5, timeouts=Timeouts(first_packet=3.0, head_total=4))
    assert both.timeouts.first_packet == 1.5 and both.timeouts.head_total == 4


# -- the calls that skip waiting (MSG_DONTWAIT on a blocking socket) ---------------

NO_WAIT_PLATFORM = hasattr(socket, "MSG_DONTWAIT")


def test_no_wait_calls_never_wait_on_a_plain_blocking_socket():
    left, right = socket.socketpair()
    with left, right:
        assert can_skip_waits(left) is NO_WAIT_PLATFORM
        if not NO_WAIT_PLATFORM:
            return  # Windows: the server always waits with a timeout
        started = time.monotonic()
        with pytest.raises(WOULD_WAIT):
            left.recv(100, NO_WAIT)  # nothing there yet
        big = b"x" * (16 * 1024 * 1024)
        sent = left.send(big, NO_WAIT)  # more than any socket buffer
        assert 0 < sent < len(big)
        with pytest.raises(WOULD_WAIT):
            left.send(big, NO_WAIT)  # the buffer is full
        assert time.monotonic() - started < 1.0
        right.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert left.recv(100, NO_WAIT) == b"GET / HTTP/1.0\r\n\r\n"
        assert can_skip_waits(left)  # the calls changed nothing


def test_sockets_with_a_timeout_take_the_waiting_path():
    left, right = socket.socketpair()
    with left, right:
        left.settimeout(1.0)
        assert not can_skip_waits(left)


def small_window_connection(server):
    """A connection whose receive buffer (so TCP window) is tiny: the server's
    writes fill up at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect
    sock.settimeout(10.0)
    sock.connect(("127.0.0.1", server.port))
    return sock


def test_a_one_write_response_bigger_than_the_send_buffer_is_complete(serve):
    body = bytes(range(256)) * 1000  # 250 KiB: one write, more than fits at once
    server = serve(lambda request: Response(body))
    # Accepted sockets inherit the listener's buffer size (Linux, BSD).
    server.listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    with small_window_connection(server) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        time.sleep(0.3)  # the server's first try fills the buffers and falls short
        reply = read_all(sock)
    head, _, got = reply.partition(b"\r\n\r\n")
    assert b"content-length: 256000" in head and got == body
    assert_alive(server)


def test_a_client_that_stops_reading_is_dropped_after_the_send_stall(serve):
    body = b"y" * (250 * 1024)  # one write, far more than the buffers take
    server = serve(lambda request: Response(body), timeouts=Timeouts(send_stall=0.5))
    server.listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    with small_window_connection(server) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        time.sleep(0.2)
        started = time.monotonic()
        assert_alive(server)  # answered once the stalled send gave up
        assert time.monotonic() - started < 3.0


def test_with_a_default_socket_timeout_requests_still_work(serve):
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(5.0)  # accepted sockets then carry a timeout
    try:
        server = serve()
        assert get(server).startswith(b"HTTP/1.0 200 OK\r\n")
        assert status(get(server, "/big")) == 200
    finally:
        socket.setdefaulttimeout(previous)


def test_responses_carry_a_date(serve):
    import email.utils

    server = serve()
    reply = exchange(server, b"GET / HTTP/1.0\r\n\r\n")
    head = reply.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    dates = [line[6:] for line in head if line.lower().startswith("date: ")]
    assert len(dates) == 1
    sent = email.utils.parsedate_to_datetime(dates[0]).timestamp()
    assert abs(sent - time.time()) < 5
    assert dates[0].endswith(" GMT")


def test_no_100_continue_for_http_1_0(serve):
    server = serve()
    with connect(server) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.0\r\nExpect: 100-continue\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 3\r\n\r\n"
        )
        time.sleep(0.2)
        sock.sendall(b"a=1")
        reply = read_all(sock)
    assert b"100 Continue" not in reply
    assert reply.startswith(b"HTTP/1.0 200")


def test_100_continue_for_http_1_1(serve):
    server = serve()
    with connect(server) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 3\r\n\r\n"
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"a=1")
        assert read_all(sock).startswith(b"HTTP/1.0 200")
