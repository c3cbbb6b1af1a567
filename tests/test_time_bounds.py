"""Time bounds a client cannot stretch (issue 13, point 3), over real loopback
sockets (127.0.0.1, port 0).

Each attack is scaled down with small Timeouts so that it runs in seconds,
and checked the way a user would notice it: how long an honest request waits
meanwhile. The bounds have wide margins (a 2-core machine, other tests
running); each is far below what the attack cost before, so a regression
fails. bench/bench_slow_clients.py runs the same attacks at full size.
"""

from __future__ import annotations

import io
import logging
import math
import re
import select
import socket
import sys
import threading
import time

import pytest

from kali.connection import Connection
from kali.response import Response
from kali.server import Server
from kali.timeouts import Pace, Timeouts

LINUX = sys.platform == "linux"
BODY = bytes(range(256)) * 4096 * 8  # 8 MiB, every byte checkable
MIB = 1024 * 1024


def body_response(kind: str, tmp_path) -> Response:
    if kind == "file":  # os.sendfile where there is one
        path = tmp_path / "body.bin"
        if not path.exists():
            path.write_bytes(BODY)
        return Response.file(path)
    if kind == "bytesio":  # no file descriptor: read and sent
        return Response.file(io.BytesIO(BODY))
    if kind == "memory":
        return Response(BODY)
    chunks = (BODY[i : i + 65536] for i in range(0, len(BODY), 65536))
    return Response.stream(chunks, content_type="application/octet-stream")


KINDS = ["file", "bytesio", "memory", "stream"]


@pytest.fixture
def serve(tmp_path):
    started = []

    def app(request):
        if request.path and request.path[0] == "body":
            return body_response(request.path[1], tmp_path)
        if request.path == ["echo"]:
            return str(len(request.body))
        return "hello"

    def start(**options):
        server = Server(app, port=0, **options)
        server.bind()
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((server, thread))
        return server

    yield start
    for server, thread in started:
        server.stop()
        thread.join(20)
        assert not thread.is_alive()


def connect(server, timeout=20.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def read_all(sock) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1]) if reply else 0


def honest_wait(server) -> float:
    """Seconds an honest GET takes to be answered; it must be a 200."""
    started = time.monotonic()
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        reply = read_all(sock)
    assert reply.startswith(b"HTTP/1.0 200 OK\r\n"), reply[:80]
    return time.monotonic() - started


def paced_read(sock, bytes_per_second: float, seconds: float) -> tuple[bytes, bool]:
    """Read at about ``bytes_per_second`` until EOF, a reset or ``seconds``;
    the bytes and whether the server cut the connection (reset)."""
    chunks: list[bytes] = []
    got = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            chunk = sock.recv(16384)
        except ConnectionResetError:
            return b"".join(chunks), True
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        got += len(chunk)
        ahead = got / bytes_per_second - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
    raise AssertionError(f"still reading after {seconds} s ({got} bytes)")


def small_buffers(server) -> socket.socket:
    """A connection whose buffers hold little, so that the server's sending
    follows the client's reading closely (no autotuning on either side)."""
    server.listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # before connect
    sock.settimeout(20.0)
    sock.connect(("127.0.0.1", server.port))
    return sock


# -- the values ---------------------------------------------------------------------


def test_timeouts_refuse_bad_values():
    with pytest.raises(ValueError, match="body_gap"):
        Timeouts(body_gap=-1)
    with pytest.raises(ValueError, match="send_min_bytes_per_second"):
        Timeouts(send_min_bytes_per_second=math.nan)
    with pytest.raises(TypeError, match="send_stall"):
        Timeouts(send_stall="5")  # type: ignore[arg-type]
    assert Timeouts(body_min_bytes_per_second=0).body_min_bytes_per_second == 0


def test_pace_allows_the_grace_plus_the_bytes_at_the_rate():
    pace = Pace(1.0, 1000)
    assert pace.allowance(5.0) == 1.0  # nothing moved yet: the grace
    pace.record(500, 0.2)
    assert pace.left() == pytest.approx(1.0 + 0.5 - 0.2)
    assert pace.allowance(0.5) == 0.5  # the gap is shorter
    pace.record(0, 2.0)
    assert pace.allowance(5.0) < 0  # waited past grace + bytes / rate
    assert "slower than 1000" in pace.describe(5.0, 0.3)
    assert "no progress for 5 s" in pace.describe(5.0, 5.0)
    unlimited = Pace(1.0, 0)
    unlimited.record(0, 100.0)
    assert unlimited.allowance(2.0) == 2.0  # no rate: the gap alone


# -- silent connections --------------------------------------------------------------


def test_the_server_knows_whether_defer_accept_is_on(serve):
    server = serve()
    assert server.deferred_accept is LINUX
    if LINUX:
        value = server.listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT)
        assert value > 0


@pytest.mark.skipif(not LINUX, reason="TCP_DEFER_ACCEPT is Linux-only")
def test_silent_connections_after_the_defer_period_are_closed_at_once(serve):
    # A first-packet timeout of 2 s: were it waited, 30 silent connections
    # would hold the loop for a minute.
    server = serve(timeout=2.0)
    server.listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)
    silent = [connect(server) for _ in range(30)]
    try:
        # The kernel hands them over after its defer period (~1 s here).
        ready, _, _ = select.select(silent, [], [], 15.0)
        assert ready, "the kernel never handed the silent connections over"
        first_closed = time.monotonic()
        assert honest_wait(server) <= 1.0
        for sock in silent:
            sock.settimeout(max(0.1, first_closed + 3.0 - time.monotonic()))
            assert read_all(sock) == b""  # closed without a reply
        assert time.monotonic() - first_closed <= 3.0
    finally:
        for sock in silent:
            sock.close()


def test_without_defer_accept_a_silent_start_gets_the_first_packet_wait():
    # serve_connection takes a socket from anywhere: a request that comes
    # 0.3 s after the connection is still answered (first_packet 2 s).
    server = Server(lambda request: "late but fine", port=0, timeout=2.0)
    left, right = socket.socketpair()
    with left, right:
        answered = []
        thread = threading.Thread(
            target=lambda: answered.append(server.serve_connection(right, None))
        )
        thread.start()
        time.sleep(0.3)
        left.sendall(b"GET / HTTP/1.0\r\n\r\n")
        left.settimeout(10)
        reply = read_all(left)
        thread.join(10)
    assert reply.endswith(b"late but fine") and answered == [False]


@pytest.mark.skipif(not LINUX, reason="TCP_DEFER_ACCEPT is Linux-only")
def test_a_deferred_connection_with_nothing_to_read_is_closed_at_once():
    server = Server(lambda request: "x", port=0, timeout=5.0)
    left, right = socket.socketpair()
    with left, right:
        started = time.monotonic()
        Connection(right, None, server, deferred=True).serve()
        assert time.monotonic() - started < 1.0  # not the 5 s first packet
        assert right.fileno() == -1
        left.settimeout(5)
        assert read_all(left) == b""


# -- stalled heads, missing and trickled bodies --------------------------------------


def test_stalled_partial_heads_cost_their_head_gap_and_no_drain(serve):
    # Before: the head gap, then a drain that waited for more (0.1 + 0.2 s
    # each here, 6 s for the 20); now the head gap alone (2 s).
    server = serve(timeouts=Timeouts(head_gap=0.1, head_total=5.0))
    stalled = []
    try:
        for _ in range(20):
            sock = connect(server)
            sock.sendall(b"GET / HTTP/1.0\r\nX-Part: of a head")
            stalled.append(sock)
        assert honest_wait(server) <= 4.5
        for sock in stalled:
            assert status(read_all(sock)) == 408
    finally:
        for sock in stalled:
            sock.close()


def test_post_heads_without_a_body_cost_the_body_grace(serve):
    # Before: the 2 s body gap and a drain each (22 s for these 10).
    server = serve(timeouts=Timeouts(body_grace=0.2, body_gap=2.0))
    waiting = []
    try:
        for _ in range(10):
            sock = connect(server)
            sock.sendall(b"POST /echo HTTP/1.0\r\nContent-Length: 100000\r\n\r\n")
            waiting.append(sock)
        assert honest_wait(server) <= 5.0
        for sock in waiting:
            assert status(read_all(sock)) == 408
    finally:
        for sock in waiting:
            sock.close()


def test_a_trickled_body_is_cut_after_its_grace(serve):
    # 20 MiB declared, a byte every 0.3 s: the old budget followed the
    # declared length (25 s); now the grace, as 1 byte is far below the rate.
    server = serve(timeouts=Timeouts(body_grace=0.5, body_gap=1.0))
    trickler = connect(server)
    replies: list[bytes] = []

    def trickle() -> None:
        with trickler:
            try:
                trickler.sendall(
                    b"POST /echo HTTP/1.0\r\nContent-Length: %d\r\n\r\n" % (20 * MIB)
                )
                for _ in range(60):
                    trickler.sendall(b"x")
                    readable, _, _ = select.select([trickler], [], [], 0.3)
                    if readable:
                        break
            except OSError:
                pass
            replies.append(read_all(trickler))

    thread = threading.Thread(target=trickle)
    thread.start()
    time.sleep(0.1)
    try:
        assert honest_wait(server) <= 3.0
    finally:
        thread.join(30)
    assert status(replies[0]) == 408


def test_a_body_at_a_good_rate_is_read_whole(serve):
    server = serve(timeouts=Timeouts(body_grace=0.3, body_min_bytes_per_second=MIB))
    size = 3 * MIB
    with connect(server) as sock:
        sock.sendall(b"PUT /echo HTTP/1.0\r\nContent-Length: %d\r\n\r\n" % size)
        started = time.monotonic()
        for sent in range(0, size, 65536):  # about 6 MiB/s, with pauses
            sock.sendall(b"z" * 65536)
            ahead = (sent + 65536) / (6 * MIB) - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        reply = read_all(sock)
    assert status(reply) == 200 and reply.endswith(b"\r\n\r\n%d" % size)


# -- slow and steady readers ---------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_slow_reader_is_cut_and_logged_as_truncated(serve, caplog, kind):
    # 200 KB/s against a floor of 1 MB/s after 0.3 s: cut in about a second.
    # Before, a file body was never cut and a memory one only at send_stall.
    server = serve(
        timeouts=Timeouts(
            send_grace=0.3, send_min_bytes_per_second=1_000_000, send_stall=10.0
        )
    )
    outcome: list[tuple[bytes, bool]] = []
    with caplog.at_level(logging.INFO, logger="kali"):
        with small_buffers(server) as slow:
            slow.sendall(b"GET /body/%s HTTP/1.0\r\n\r\n" % kind.encode())
            thread = threading.Thread(
                target=lambda: outcome.append(paced_read(slow, 200_000, 30.0))
            )
            thread.start()
            time.sleep(0.2)
            try:
                assert honest_wait(server) <= 5.0
            finally:
                thread.join(40)
    received, reset = outcome[0]
    assert reset and len(received) < len(BODY)
    lines = [
        r.getMessage() for r in caplog.records if f"/body/{kind}" in r.getMessage()
    ]
    assert len(lines) == 1 and " 200 " in lines[0] and " truncated " in lines[0], lines
    length = "-" if kind == "stream" else str(len(BODY))
    sent = int(lines[0].split(" truncated ")[1].split("/")[0])
    assert lines[0].endswith(f"/{length}") and len(received) - 300 <= sent < len(BODY)
    assert "slower than" in caplog.text


@pytest.mark.parametrize("kind", KINDS)
def test_a_steady_reader_is_not_cut(serve, caplog, kind):
    # 2 MB/s, four times the floor and past the 3 s stall in all: the
    # deadline is about progress, not the whole send.
    server = serve(
        timeouts=Timeouts(
            send_grace=0.3, send_min_bytes_per_second=500_000, send_stall=3.0
        )
    )
    with caplog.at_level(logging.INFO, logger="kali"):
        with small_buffers(server) as reader:
            reader.sendall(b"GET /body/%s HTTP/1.0\r\n\r\n" % kind.encode())
            reply, reset = paced_read(reader, 2_000_000, 30.0)
    assert not reset
    head, _, got = reply.partition(b"\r\n\r\n")
    assert got == BODY
    if kind != "stream":
        assert b"content-length: %d" % len(BODY) in head
    assert "truncated" not in caplog.text


def test_a_client_that_stops_reading_is_cut_after_the_stall(serve, caplog):
    server = serve(
        timeouts=Timeouts(send_stall=0.5, send_grace=60, send_min_bytes_per_second=0)
    )
    with caplog.at_level(logging.INFO, logger="kali"):
        with small_buffers(server) as stopped:
            stopped.sendall(b"GET /body/file HTTP/1.0\r\n\r\n")
            time.sleep(0.1)
            assert honest_wait(server) <= 3.0
    assert "no progress for 0.5 s" in caplog.text
    assert re.search(r"\" 200 \d+ .* truncated \d+/8388608$", caplog.text, re.M)
