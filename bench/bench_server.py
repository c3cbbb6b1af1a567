"""Load benchmark: kali's server loop against two sequential baselines.

    python3 bench/bench_server.py [--seconds N] [--clients 1,8] [--rounds R]
                                  [--pages hello,5k] [--servers ...] [--profile]

Servers, each in its own subprocess (so the clients never share its GIL):

* ``kali``        -- ``kali.server.Server``: what ``serve_http`` runs (bind,
                     then ``serve_forever``), with its default logging.
                     ``kali:DIR`` imports kali from DIR instead, to compare a
                     change with the checkout (``--servers kali,kali:/tmp/x``).
* ``http.server`` -- ``http.server.HTTPServer`` with a BaseHTTPRequestHandler,
                     HTTP/1.0, sequential, its per-request stderr log silenced.
* ``bare``        -- a sequential socket loop: accept, read until the blank
                     line, send a canned reply, close. The floor of what a
                     one-thread Python server can do.

Pages: ``hello`` (13 bytes) and ``5k`` (5120 bytes of HTML). Clients are
processes (8 threads in one process would be bottlenecked by its GIL), each
doing one request per connection in a loop for ``--seconds``: connect, send,
read to EOF, check the status and body, close.

Reported per case: requests per second, errors (refused, reset, timed out or
wrong answers), median / 99th percentile / maximum latency, how many requests
took longer than 1 s (a dropped SYN costs 1 s: it must be 0 for kali), and the
server's CPU time per request (Linux). The servers take turns case by case for
``--rounds`` rounds, so that other load on the machine hits them alike; the
summary gives the median rate and the median of the per-round ratios
kali/bare and kali/http.server. The exit status is 1 when kali misses the
goals: >= 0.8 x bare on hello with one client, no errors, nothing over 1 s.
``--one-cpu`` (Linux) runs every server and client on one CPU. On a small
or shared machine, a 1-client run otherwise swings with where the scheduler
puts the two processes (a wake-up on another CPU can cost more than the
request); on one CPU, the rates are the CPU cost of a request, client and
server together, and the ratios hold steady from run to run.
``--profile`` then runs kali under cProfile and prints where its time goes,
per request and by source file.

All traffic goes to 127.0.0.1. Every server and client process is stopped by
its own handle (servers: SIGINT, then kill after a timeout).
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVERS = ("kali", "bare", "http.server")
PAGES: dict[str, bytes] = {
    "hello": b"Hello, world!",
    "5k": (
        b"<!DOCTYPE html>\n<html><head><title>5 KB</title></head><body>\n"
        + b"<p>All work and no play makes Jack a dull boy.</p>\n" * 97
        + b"</body></html>\n"
    )[:5120],
}
REQUEST_TIMEOUT = 5.0
SLOW_SECONDS = 1.0
WARMUP_REQUESTS = 50
STOP_SECONDS = 5.0


# -- the servers (run in a subprocess: ``--serve KIND --page NAME``) ---------------


def serve_kali(listen_ready: Any, body: bytes, root: str = str(ROOT)) -> None:
    sys.path.insert(0, root)
    from kali.server import Server

    text = body.decode()

    def handler(request: Any) -> str:
        return text

    server = Server(handler, port=0)  # as serve_http(handler, port=0, start=None)
    server.bind()
    listen_ready(server.port)
    server.serve_forever()


def serve_http_server(listen_ready: Any, body: bytes) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with http.server.HTTPServer(("127.0.0.1", 0), Handler) as server:
        listen_ready(server.server_address[1])
        server.serve_forever()


def serve_bare(listen_ready: Any, body: bytes) -> None:
    reply = (
        b"HTTP/1.0 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        listen_ready(listener.getsockname()[1])
        while True:
            client, _ = listener.accept()
            with client:
                client.settimeout(5)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = client.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    client.sendall(reply)
                except OSError:
                    pass


def serve_main(kind: str, page: str, profile_path: str | None) -> None:
    profiler = None

    def listen_ready(port: int) -> None:
        nonlocal profiler
        if profile_path:  # from here on: imports and setup are not counted
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        print(port, flush=True)

    name, _, kali_root = kind.partition(":")
    body = PAGES[page]
    try:
        if name == "kali":
            serve_kali(listen_ready, body, kali_root or str(ROOT))
        elif name == "bare":
            serve_bare(listen_ready, body)
        else:
            serve_http_server(listen_ready, body)
    except KeyboardInterrupt:
        pass
    finally:
        if profiler is not None and profile_path:
            profiler.disable()
            profiler.dump_stats(profile_path)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` so far (Linux), else None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            fields = file.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    # After "pid (comm)": field 3 is the state, so utime and stime (fields 14
    # and 15 of proc(5)) are at 11 and 12 here.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServerProcess:
    """A benchmark server in a subprocess of its own; a context manager."""

    def __init__(self, kind: str, page: str, profile_path: str | None = None):
        argv = [sys.executable, __file__, "--serve", kind, "--page", page]
        if profile_path:
            argv += ["--profile-to", profile_path]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"{kind} server did not start")
        self.port = int(line)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        process = self.process
        if process.poll() is None:
            if os.name == "posix":
                process.send_signal(signal.SIGINT)  # KeyboardInterrupt: clean exit
            else:
                process.terminate()
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()


# -- the clients --------------------------------------------------------------------


def fetch(port: int, request: bytes) -> bytes:
    """One request on a connection of its own; the whole raw response."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(REQUEST_TIMEOUT)
        sock.connect(("127.0.0.1", port))
        sock.sendall(request)
        chunks: list[bytes] = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def make_request(port: int) -> bytes:
    return f"GET / HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


def check(response: bytes, body: bytes) -> str | None:
    """None for a good answer, else what is wrong with it."""
    head, _, got = response.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.0 200"):
        return "status " + head[:20].decode("latin-1")
    if got != body:
        return f"body of {len(got)} bytes"
    return None


def client_worker(
    port: int, body: bytes, seconds: float, ready: Any, go: Any, results: Any
) -> None:
    """Request in a loop for ``seconds`` once ``go`` is set; put the stats."""
    request = make_request(port)
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    ready.release()
    if not go.wait(60):
        results.put((latencies, {"never started": 1}))
        return
    end = time.perf_counter() + seconds
    while True:
        started = time.perf_counter()
        if started >= end:
            break
        try:
            problem = check(fetch(port, request), body)
        except OSError as error:
            problem = type(error).__name__
        latencies.append(time.perf_counter() - started)
        if problem:
            errors[problem] += 1
    results.put((latencies, dict(errors)))


def run_load(port: int, body: bytes, clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` client processes on ``port`` for ``seconds``; the stats."""
    context = multiprocessing.get_context("spawn")
    ready = context.Semaphore(0)
    go = context.Event()
    results = context.Queue()
    arguments = (port, body, seconds, ready, go, results)
    workers = [
        context.Process(target=client_worker, args=arguments) for _ in range(clients)
    ]
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    try:
        for worker in workers:
            worker.start()
        for _ in workers:  # every interpreter is up before the clock starts
            if not ready.acquire(timeout=60):
                raise RuntimeError("a client process did not start")
        go.set()
        for _ in workers:
            got, kinds = results.get(timeout=seconds + 60)
            latencies += got
            errors.update(kinds)
    finally:
        go.set()
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.kill()
                worker.join()
        results.close()
        results.join_thread()
    latencies.sort()
    count = len(latencies)
    return {
        "requests": count,
        "rate": count / seconds,
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "median": statistics.median(latencies) if latencies else 0.0,
        "p99": latencies[int(count * 0.99)] if latencies else 0.0,
        "max": latencies[-1] if latencies else 0.0,
        "slow": sum(1 for value in latencies if value > SLOW_SECONDS),
    }


def warm_up(port: int, body: bytes) -> None:
    request = make_request(port)
    for _ in range(WARMUP_REQUESTS):
        problem = check(fetch(port, request), body)
        if problem:
            raise RuntimeError(f"bad answer while warming up: {problem}")


# -- the report ----------------------------------------------------------------------


def label(kind: str) -> str:
    """``kali:/some/dir/name`` is shown as ``kali:name``."""
    name, _, root = kind.partition(":")
    return f"{name}:{Path(root).name}" if root else name


def print_case(page: str, clients: int, kind: str, stats: dict[str, Any]) -> None:
    print(
        f"{page:6} {clients:>7} {label(kind):12} {stats['rate']:8.0f} "
        f"{stats['errors']:6} {stats['median'] * 1000:9.2f} "
        f"{stats['p99'] * 1000:7.2f} {stats['max'] * 1000:7.1f} "
        f"{stats['slow']:4} "
        + ("    -" if stats["cpu"] is None else f"{stats['cpu'] * 1e6:5.0f}")
        + (f"  {stats['error_kinds']}" if stats["errors"] else ""),
        flush=True,
    )


def paired_ratio(
    rates: dict[tuple[str, int, str], list[float]], page: str, clients: int, other: str
) -> float:
    """The median, over the rounds, of kali's rate over ``other``'s in that round."""
    pairs = zip(rates[(page, clients, "kali")], rates[(page, clients, other)])
    return statistics.median(mine / theirs for mine, theirs in pairs)


def run(args: argparse.Namespace) -> int:
    if args.one_cpu:
        # Every server and client process inherits this affinity.
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    clients_list = [int(n) for n in args.clients.split(",")]
    pages = args.pages.split(",")
    servers = args.servers.split(",")
    rates: dict[tuple[str, int, str], list[float]] = {}
    worst: dict[tuple[str, int, str], dict[str, Any]] = {}
    print(
        f"# {args.rounds} round(s) of {args.seconds:g} s per case; "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
        + (", all on one CPU" if args.one_cpu else "")
    )
    header = (
        f"{'page':6} {'clients':>7} {'server':12} {'req/s':>8} {'errors':>6} "
        f"{'median ms':>9} {'p99 ms':>7} {'max ms':>7} {'>1s':>4} {'cpu us':>6}"
    )
    print(header)
    with contextlib.ExitStack() as stack:
        servers_by_key = {}
        for page in pages:
            for kind in servers:
                server = stack.enter_context(ServerProcess(kind, page))
                warm_up(server.port, PAGES[page])
                servers_by_key[(page, kind)] = server
        # Servers alternate case by case, round after round, so that a change
        # in the machine's load hits them all alike.
        for round_number in range(args.rounds):
            for page in pages:
                for clients in clients_list:
                    for kind in servers:
                        server = servers_by_key[(page, kind)]
                        before = cpu_seconds(server.process.pid)
                        stats = run_load(
                            server.port, PAGES[page], clients, args.seconds
                        )
                        after = cpu_seconds(server.process.pid)
                        stats["cpu"] = (
                            (after - before) / stats["requests"]
                            if before is not None
                            and after is not None
                            and stats["requests"]
                            else None
                        )
                        key = (page, clients, kind)
                        rates.setdefault(key, []).append(stats["rate"])
                        previous = worst.get(key)
                        if previous is None:
                            worst[key] = stats
                        else:
                            previous["errors"] += stats["errors"]
                            previous["slow"] += stats["slow"]
                            previous["max"] = max(previous["max"], stats["max"])
                        print_case(page, clients, kind, stats)
            if args.rounds > 1:
                print(f"# end of round {round_number + 1}", flush=True)
    print("\n# median req/s over the rounds; ratios: median of the per-round ratios")
    ok = True
    for page in pages:
        for clients in clients_list:
            line = [f"{page:6} {clients:>2} client(s):"]
            median = {
                kind: statistics.median(rates[(page, clients, kind)])
                for kind in servers
            }
            line += [f"{label(kind)} {median[kind]:.0f}" for kind in servers]
            for other in servers:
                if "kali" in median and other != "kali":
                    ratio = paired_ratio(rates, page, clients, other)
                    line.append(f"kali/{label(other)} {ratio:.2f}")
            print("  ".join(line))
            if "kali" in servers:
                stats = worst[(page, clients, "kali")]
                if stats["errors"] or stats["slow"]:
                    ok = False
                    print(
                        f"  kali: {stats['errors']} errors, {stats['slow']} "
                        f"requests slower than {SLOW_SECONDS:g} s"
                    )
    if {"kali", "bare"} <= set(servers) and "hello" in pages and 1 in clients_list:
        ratio = paired_ratio(rates, "hello", 1, "bare")
        verdict = "met" if ratio >= 0.8 else "NOT met"
        print(f"\ngoal kali >= 0.8 x bare (hello, 1 client): {ratio:.2f} -> {verdict}")
        ok = ok and ratio >= 0.8
    if args.profile and "kali" in servers:
        profile_kali(args, pages[0])
    return 0 if ok else 1


def profile_kali(args: argparse.Namespace, page: str) -> None:
    """Run kali under cProfile for one 1-client case and print where time goes."""
    import pstats
    import tempfile

    body = PAGES[page]
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "kali.prof")
        with ServerProcess("kali", page, profile_path=path) as server:
            warm_up(server.port, body)
            stats = run_load(server.port, body, 1, args.seconds)
        requests = stats["requests"] + WARMUP_REQUESTS
        print(
            f"\n# cProfile of the kali server: {page}, 1 client, "
            f"{stats['rate']:.0f} req/s under the profiler, {requests} requests"
        )
        profile = pstats.Stats(path)
        print_by_module(profile, requests)
        profile.strip_dirs().sort_stats("tottime").print_stats(30)


def print_by_module(profile: Any, requests: int) -> None:
    """Function calls and own time per request, summed by source file."""
    calls: Counter[str] = Counter()
    seconds: Counter[str] = Counter()
    for (filename, _line, name), row in profile.stats.items():
        _primitive, total_calls, own_time = row[0], row[1], row[2]
        if filename == "~":
            where = "C: " + (name.split(" of ")[0].strip("{}<>") or name)
        else:
            where = Path(filename).name
        calls[where] += total_calls
        seconds[where] += own_time
    print(f"{'per request':40} {'calls':>7} {'us (profiled)':>14}")
    for where, own in seconds.most_common(25):
        print(
            f"{where[:40]:40} {calls[where] / requests:7.1f} "
            f"{own / requests * 1e6:14.1f}"
        )
    total_calls = sum(calls.values()) / requests
    total_time = sum(seconds.values()) / requests * 1e6
    print(f"{'total':40} {total_calls:7.1f} {total_time:14.1f}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per case")
    parser.add_argument("--clients", default="1,8", help="comma-separated counts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pages", default="hello,5k", help="hello,5k")
    parser.add_argument(
        "--servers",
        default=",".join(SERVERS),
        help="of kali, bare, http.server; kali:DIR imports another kali from DIR",
    )
    parser.add_argument(
        "--profile", action="store_true", help="then profile kali (1 client)"
    )
    parser.add_argument(
        "--one-cpu",
        action="store_true",
        help="run servers and clients on one CPU (Linux): steadier ratios",
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--page", choices=sorted(PAGES), help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve_main(args.serve, args.page or "hello", args.profile_to)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
