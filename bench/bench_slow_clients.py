"""Slow and silent clients against kali's one loop: how long an honest request waits.

    python3 bench/bench_slow_clients.py [--only silent,posts,trickle,heads,slow,steady]
                                        [--defer-seconds N]

A kali server (``kali.server.Server`` with its default Limits and Timeouts)
runs in a subprocess; this process plays the attackers, each vector at full
size, while an honest client keeps asking for a small page one request after
another. Reported per vector: the longest an honest request waited, the
target, and whether it was met:

* ``silent``  -- 100 connections that never send a byte. On Linux the kernel
                 holds them back (TCP_DEFER_ACCEPT, 30 s) and then hands them
                 all over; each must be closed at once: the honest wait after
                 the defer period <= 1 s in all. Elsewhere each costs the
                 first-packet timeout (reported, no target).
* ``posts``   -- 15 POST heads declaring a body that never comes: each holds
                 the loop for the body grace at most.
* ``trickle`` -- one POST declaring 20 MiB and sending a byte every 1.5 s:
                 cut after its grace plus its bytes at the minimum rate.
* ``heads``   -- 20 connections that send part of a head and stop: <= 10 s
                 in all.
* ``slow``    -- a reader of a 100 MB file at 500 KB/s: cut (and logged as
                 truncated) within the send grace plus the bytes it was sent
                 at the minimum rate.
* ``steady``  -- a reader of a 50 MiB in-memory body at 5 MB/s: must NOT be
                 cut (it holds the loop for its transfer, as any download).

``--defer-seconds`` sets the listener's TCP_DEFER_ACCEPT to N (Linux) for a
quicker ``silent`` run; the default is the server's own value (30 s), so the
whole run takes about two minutes. The exit status is 1 when a target is
missed. Everything goes to 127.0.0.1; every connection and the server are
bounded in time and closed or stopped by this script.
"""

from __future__ import annotations

import argparse
import re
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kali.timeouts import Timeouts  # noqa: E402

DEFAULTS = Timeouts()
MIB = 1024 * 1024
LINUX = sys.platform == "linux"
VECTORS = ("silent", "posts", "trickle", "heads", "slow", "steady")
#: No single wait of this script lasts longer.
CAP_SECONDS = 180.0
#: Slack added to each target for the machine (scheduling, the subprocess),
#: and for each connection of a vector (accept, the 408, the close).
SLACK_SECONDS = 0.5
SLACK_PER_CONNECTION = 0.05

SERVER_SCRIPT = """
import logging, socket, sys
sys.path.insert(0, {root!r})
logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
from kali import Response
from kali.server import Server

MEMORY = b"m" * (50 * 1024 * 1024)

def app(request):
    if request.path == ["file"]:
        return Response.file({file!r})
    if request.path == ["memory"]:
        return Response(MEMORY, headers={{"content-type": "application/octet-stream"}})
    if request.path == ["stop"]:
        return Response("bye", shut_down=True)
    if request.path == ["echo"]:
        return str(len(request.body))
    return "hello"

server = Server(app, port=0)
server.bind()
if {defer!r} and server.deferred_accept:
    server.listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, {defer!r})
print("deferred", server.deferred_accept, file=sys.stderr, flush=True)
server.serve_forever()
"""


class KaliProcess:
    """The server under test, in a subprocess; its log lines are kept."""

    def __init__(self, file: Path, defer: int) -> None:
        code = SERVER_SCRIPT.format(root=str(ROOT), file=str(file), defer=defer)
        self.process = subprocess.Popen(
            [sys.executable, "-c", code], stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        self.port = 0
        self.deferred = False
        started = threading.Event()

        def read() -> None:
            assert self.process.stderr is not None
            for line in self.process.stderr:
                self.lines.append(line.rstrip("\n"))
                found = re.search(r"Listening on http://127\.0\.0\.1:(\d+)/", line)
                if found:
                    self.port = int(found.group(1))
                if line.startswith("deferred "):
                    self.deferred = line.split()[1] == "True"
                    started.set()

        threading.Thread(target=read, daemon=True).start()
        if not started.wait(30) or not self.port:
            self.stop()
            raise RuntimeError("the kali server did not start")

    def stop(self) -> None:
        if self.process.poll() is None and self.port:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 5) as sock:
                    sock.sendall(b"GET /stop HTTP/1.0\r\n\r\n")
                    sock.recv(1024)
            except OSError:
                pass
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def connect(port: int, timeout: float = CAP_SECONDS) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass
class Prober:
    """An honest client: GET / one after another (with a short pause),
    keeping the longest wait."""

    port: int
    waits: list[float] = field(default_factory=list)
    failures: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                with connect(self.port) as sock:
                    sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
                    ok = read_all(sock).startswith(b"HTTP/1.0 200")
            except OSError:
                ok = False
            self.waits.append(time.monotonic() - started)
            self.failures += not ok
            self._stop.wait(0.02)

    @property
    def longest(self) -> float:
        return max(self.waits, default=0.0)


@contextmanager
def probing(port: int) -> Iterator[Prober]:
    prober = Prober(port)
    thread = threading.Thread(target=prober.run, daemon=True)
    thread.start()
    try:
        yield prober
    finally:
        prober._stop.set()
        thread.join(CAP_SECONDS)


@dataclass
class Row:
    vector: str
    size: str
    waited: float
    target: float | None
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "info"
        return "ok" if self.waited <= self.target else "MISSED"


def wait_for_eof(socks: list[socket.socket], seconds: float) -> list[float]:
    """When each of ``socks`` was closed by the server (monotonic times)."""
    pending = {sock.fileno(): sock for sock in socks}
    closed: list[float] = []
    deadline = time.monotonic() + seconds
    while pending and time.monotonic() < deadline:
        ready, _, _ = select.select(list(pending.values()), [], [], 1.0)
        for sock in ready:
            try:
                data = sock.recv(1024)
            except OSError:
                data = b""
            if not data:
                closed.append(time.monotonic())
                del pending[sock.fileno()]
    return closed


def vector_silent(server: KaliProcess, defer: int) -> Row:
    count = 100
    silent = [connect(server.port) for _ in range(count)]
    try:
        with probing(server.port) as prober:
            limit = (defer or 31) + 60 if server.deferred else 60 + count
            closed = wait_for_eof(silent, limit)
            time.sleep(0.5)  # a probe after the last one
    finally:
        for sock in silent:
            sock.close()
    spread = (max(closed) - min(closed)) if closed else float("nan")
    note = f"{len(closed)}/{count} closed within {spread:.2f} s of each other"
    if not server.deferred:
        return Row("silent", f"{count} conns", prober.longest, None, note)
    return Row("silent", f"{count} conns", prober.longest, 1.0, note)


def vector_posts(server: KaliProcess) -> Row:
    count = 15
    heads = []
    try:
        with probing(server.port) as prober:
            for _ in range(count):
                sock = connect(server.port)
                sock.sendall(b"POST /echo HTTP/1.0\r\nContent-Length: %d\r\n\r\n" % MIB)
                heads.append(sock)
            answers = [read_all(sock)[:12] for sock in heads]
            time.sleep(0.5)
    finally:
        for sock in heads:
            sock.close()
    got_408 = sum(answer.endswith(b"408") for answer in answers)
    grace = DEFAULTS.body_grace
    per = prober.longest / count
    note = f"{got_408}/{count} got 408; {per:.2f} s per connection (grace {grace:g} s)"
    target = count * (grace + SLACK_PER_CONNECTION) + SLACK_SECONDS
    return Row("posts", f"{count} heads", prober.longest, target, note)


def vector_trickle(server: KaliProcess) -> Row:
    declared = 20 * MIB
    sent = 0
    answer = b""
    with probing(server.port) as prober:
        with connect(server.port) as sock:
            sock.sendall(
                b"POST /echo HTTP/1.0\r\nContent-Length: %d\r\n\r\n" % declared
            )
            started = time.monotonic()
            while time.monotonic() - started < 60:
                try:
                    sock.sendall(b"x")
                except OSError:
                    break
                sent += 1
                ready, _, _ = select.select([sock], [], [], 1.5)
                if ready:
                    break
            answer = read_all(sock)
            held = time.monotonic() - started
        time.sleep(0.5)
    target = DEFAULTS.body_grace + sent / DEFAULTS.body_min_bytes_per_second
    status = answer[9:12].decode() or "-"
    note = f"answer {status} after {held:.2f} s, {sent} bytes sent"
    return Row(
        "trickle", "20 MiB declared", prober.longest, target + SLACK_SECONDS, note
    )


def vector_heads(server: KaliProcess) -> Row:
    count = 20
    heads = []
    try:
        with probing(server.port) as prober:
            for _ in range(count):
                sock = connect(server.port)
                sock.sendall(b"GET / HTTP/1.0\r\nX-Part: of a head")
                heads.append(sock)
            answers = [read_all(sock)[:12] for sock in heads]
            time.sleep(0.5)
    finally:
        for sock in heads:
            sock.close()
    got_408 = sum(answer.endswith(b"408") for answer in answers)
    note = f"{got_408}/{count} got 408; head gap {DEFAULTS.head_gap:g} s each"
    return Row("heads", f"{count} partial heads", prober.longest, 10.0, note)


def paced_read(
    sock: socket.socket, bytes_per_second: float, seconds: float
) -> tuple[int, bool, float]:
    """Read at about ``bytes_per_second`` until EOF, a reset or ``seconds``:
    (bytes, reset?, seconds taken)."""
    got = 0
    started = time.monotonic()
    reset = False
    while time.monotonic() - started < seconds:
        try:
            chunk = sock.recv(65536)
        except OSError:
            reset = True
            break
        if not chunk:
            break
        got += len(chunk)
        ahead = got / bytes_per_second - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
    return got, reset, time.monotonic() - started


def truncated_line(server: KaliProcess, path: str) -> tuple[int, str] | None:
    """(body bytes sent, the line) from the access line of a cut response."""
    for line in reversed(server.lines):
        if f'"GET {path} ' in line and " truncated " in line:
            return int(line.split(" truncated ")[1].split("/")[0]), line
    return None


def vector_slow(server: KaliProcess) -> Row:
    rate = 500_000
    with probing(server.port) as prober:
        with connect(server.port) as sock:
            sock.sendall(b"GET /file HTTP/1.0\r\n\r\n")
            got, reset, took = paced_read(sock, rate, 120.0)
        time.sleep(0.5)
    time.sleep(0.2)  # the log line
    found = truncated_line(server, "/file")
    if found is None:
        return Row("slow", "100 MB at 500 KB/s", prober.longest, 0.0, "NOT cut")
    sent, _ = found
    target = DEFAULTS.send_grace + sent / DEFAULTS.send_min_bytes_per_second
    note = (
        f"cut after {took:.1f} s ({'reset' if reset else 'EOF'}); read "
        f"{got / MIB:.1f} MiB; log: truncated, {sent / MIB:.1f} MiB sent"
    )
    return Row(
        "slow", "100 MB at 500 KB/s", prober.longest, target + SLACK_SECONDS, note
    )


def vector_steady(server: KaliProcess) -> Row:
    rate = 5_000_000
    size = 50 * MIB
    with probing(server.port) as prober:
        with connect(server.port) as sock:
            sock.sendall(b"GET /memory HTTP/1.0\r\n\r\n")
            got, reset, took = paced_read(sock, rate, 120.0)
        time.sleep(0.5)
    complete = not reset and got > size and truncated_line(server, "/memory") is None
    outcome = "complete, not cut" if complete else "CUT"
    note = f"{outcome}: {got / MIB:.1f} MiB in {took:.1f} s"
    # Not cut, and the loop held no longer than the transfer itself.
    target = took + SLACK_SECONDS if complete else 0.0
    return Row("steady", "50 MiB at 5 MB/s", prober.longest, target, note)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(VECTORS))
    parser.add_argument(
        "--defer-seconds",
        type=int,
        default=0,
        help="TCP_DEFER_ACCEPT for the silent vector (Linux; 0: the server's 30 s)",
    )
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(chosen) - set(VECTORS)
    if unknown:
        parser.error(f"unknown vectors: {', '.join(sorted(unknown))}")
    runs: dict[str, Callable[[KaliProcess], Row]] = {
        "silent": lambda server: vector_silent(server, args.defer_seconds),
        "posts": vector_posts,
        "trickle": vector_trickle,
        "heads": vector_heads,
        "slow": vector_slow,
        "steady": vector_steady,
    }
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "large.bin"
        with open(file, "wb") as out:
            out.truncate(100_000_000)  # 100 MB (sparse: reads as zeros)
        for name in chosen:
            server = KaliProcess(file, args.defer_seconds)
            try:
                print(f"running {name}...", file=sys.stderr, flush=True)
                rows.append(runs[name](server))
            finally:
                server.stop()
    print()
    print(
        f"Timeouts: first_packet {DEFAULTS.first_packet:g} s, head_gap "
        f"{DEFAULTS.head_gap:g} s, body grace {DEFAULTS.body_grace:g} s + "
        f"{DEFAULTS.body_min_bytes_per_second / MIB:g} MiB/s, send grace "
        f"{DEFAULTS.send_grace:g} s + {DEFAULTS.send_min_bytes_per_second / MIB:g}"
        f" MiB/s, send stall {DEFAULTS.send_stall:g} s"
    )
    print(f"{'vector':8} {'size':20} {'honest wait':>11} {'target':>9}  result  note")
    for row in rows:
        target = "-" if row.target is None else f"<= {row.target:.1f}"
        print(
            f"{row.vector:8} {row.size:20} {row.waited:10.3f}s {target:>9}  "
            f"{row.verdict:6}  {row.note}"
        )
    return 1 if any(row.verdict == "MISSED" for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
