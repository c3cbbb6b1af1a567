"""Static file throughput: kali's StaticFolder against a bare sendfile loop.

    python3 bench/bench_static.py [--mib 10] [--requests 200]

Two servers, each in its own subprocess, serve the same ``--mib`` MiB file:

* ``kali`` -- ``kali.server.Server`` running a Router with a StaticFolder
              (request parsing, security checks, routing, stat, ETag, ...).
* ``bare`` -- a sequential socket loop: accept, read until the blank line,
              open the file, send a fixed head, ``socket.sendfile``, close.
              The floor of what a one-thread Python server can do.

One client (this process) fetches the file ``--requests`` times from each
server, one request at a time, alternating servers, reading into a 4 MiB
buffer. The figure is the median, over those back-to-back pairs, of
bare time / kali time (pairing cancels most background load; each server's
median throughput is printed too). The target is kali >= 0.9 x bare; the
exit status is 1 when it is missed.

All traffic goes to 127.0.0.1; each server process is stopped by its own
handle.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILE_NAME = "big.bin"
TARGET_RATIO = 0.9


def serve_bare(folder: str) -> None:
    path = os.path.join(folder, FILE_NAME)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    print(listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                conn.sendall(
                    b"HTTP/1.0 200 OK\r\ncontent-type: application/octet-stream\r\n"
                    b"content-length: %d\r\n\r\n" % size
                )
                conn.sendfile(handle)


def serve_kali(folder: str) -> None:
    sys.path.insert(0, ROOT)
    from kali.routing import Router
    from kali.server import Server
    from kali.static import StaticFolder

    router = Router()
    router.delegate_folder("/", StaticFolder(folder))
    server = Server(router, port=0)
    server.bind()
    print(server.port, flush=True)
    server.serve_forever()


def start(kind: str, folder: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, folder],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    return process, port


def fetch(port: int, buffer: bytearray, size: int) -> None:
    view = memoryview(buffer)
    request = f"GET /{FILE_NAME} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(request)
        first = conn.recv_into(view)
        if not view[:first].tobytes().startswith(b"HTTP/1.0 200 "):
            raise RuntimeError(f"bad answer: {view[:80].tobytes()!r}")
        total = first
        while True:
            count = conn.recv_into(view)
            if not count:
                break
            total += count
    if total < size:
        raise RuntimeError(f"short body: {total} < {size}")


def timed_fetch(port: int, buffer: bytearray, size: int) -> float:
    started = time.perf_counter()
    fetch(port, buffer, size)
    return time.perf_counter() - started


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=10)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument(
        "--serve", nargs=2, metavar=("KIND", "FOLDER"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        kind, folder = args.serve
        (serve_kali if kind == "kali" else serve_bare)(folder)
        return 0

    size = args.mib * 1024 * 1024
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, FILE_NAME), "wb") as handle:
            handle.write(os.urandom(size))
        servers = {kind: start(kind, folder) for kind in ("bare", "kali")}
        buffer = bytearray(4 * 1024 * 1024)
        times: dict[str, list[float]] = {kind: [] for kind in servers}
        try:
            for _, port in servers.values():  # warm up
                for _ in range(3):
                    fetch(port, buffer, size)
            # Alternate single requests, so that both servers see the same
            # background noise; report each server's median per request.
            for number in range(args.requests):
                order = list(servers) if number % 2 == 0 else list(servers)[::-1]
                for kind in order:
                    times[kind].append(timed_fetch(servers[kind][1], buffer, size))
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(10)
                if process.stdout is not None:
                    process.stdout.close()
    mib = size / (1024 * 1024)
    rate = {kind: mib / median(values) for kind, values in times.items()}
    best = {kind: mib / min(values) for kind, values in times.items()}
    # Each kali request ran right next to a bare one: the median of those
    # pairwise ratios cancels most of the machine's background noise.
    ratio = median([b / k for b, k in zip(times["bare"], times["kali"])])
    for kind in servers:
        print(
            f"{kind:>4}: median {rate[kind]:6.0f} MiB/s, best {best[kind]:6.0f} MiB/s"
            f" over {len(times[kind])} requests"
        )
    print(
        f"{args.mib} MiB file: kali/bare throughput = {ratio:.3f} (median of pairs;"
        f" {rate['kali'] / rate['bare']:.3f} by medians); target >= {TARGET_RATIO}"
    )
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
