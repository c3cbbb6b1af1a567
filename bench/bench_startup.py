"""How fast kali starts: ``import kali``, and process start to the first page.

    python3 bench/bench_startup.py [--runs N] [--only import,first-page]

* ``import``      -- the wall time of ``python3 -c "import kali"`` over a
                     bare ``python3 -c pass`` (median of N runs each,
                     interleaved). Target: <= 40 ms over bare. kali's names
                     load on first use, so this is also given for what a
                     small app imports (Response, Router, serve_http). The same for
                     ``import http.server`` and ``import bottle`` (if
                     installed) for scale.
* ``first-page``  -- from starting the process to the first ``200`` on
                     ``GET /`` (the browser's launch aside: ``--no-browser``):
                     ``python3 -m http.server``, ``python3 -m kali DIR`` and
                     the datebook example, serving the same small folder.
                     Target: ``python -m kali`` <= 1.3 x http.server.

The servers listen on 127.0.0.1 on a port picked free beforehand; the client
polls for the port (1 ms apart) and sends one request; every process is
stopped by this script. A one-off profile of the imports:
``python3 -X importtime -c "import kali" 2>&1 | sort -t'|' -k2 -n | tail``.
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
IMPORT_TARGET_MS = 40.0
FIRST_PAGE_RATIO = 1.3


def wall(command: list[str], cwd: Path = ROOT) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True)
    return (time.perf_counter() - started) * 1000


def interleaved(cases: dict[str, Callable[[], float]], runs: int) -> dict[str, float]:
    """The median of ``runs`` calls of each case, taking turns so that other
    load on the machine hits them alike."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, case in cases.items():
            times[name].append(case())
    return {name: statistics.median(values) for name, values in times.items()}


def has_module(name: str) -> bool:
    found = subprocess.run([PYTHON, "-c", f"import {name}"], capture_output=True)
    return found.returncode == 0


def bench_import(runs: int) -> bool:
    cases = {"bare": lambda: wall([PYTHON, "-c", "pass"])}
    modules = ["kali", "http.server"] + (["bottle"] if has_module("bottle") else [])
    for module in modules:
        cases[module] = lambda module=module: wall([PYTHON, "-c", f"import {module}"])
    app_import = "from kali import Response, Router, serve_http"
    cases["small app"] = lambda: wall([PYTHON, "-c", app_import])
    medians = interleaved(cases, runs)
    bare = medians["bare"]
    print(f"import (median of {runs}; bare interpreter {bare:.1f} ms)")
    for module in modules:
        print(f"  import {module:<12} {medians[module] - bare:6.1f} ms over bare")
    print(f"  {app_import} (what a small app imports):"
          f" {medians['small app'] - bare:.1f} ms over bare")  # fmt: skip
    over = medians["kali"] - bare
    met = over <= IMPORT_TARGET_MS
    print(f"  goal: import kali <= {IMPORT_TARGET_MS:.0f} ms over bare: "
          f"{over:.1f} -> {'met' if met else 'NOT met'}")  # fmt: skip
    return met


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def first_page(command: list[str], port: int, cwd: Path) -> float:
    """Milliseconds from starting ``command`` to a 200 on GET / at ``port``."""
    started = time.perf_counter()
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command} exited with {process.returncode}")
            if time.perf_counter() - started > 30:
                raise RuntimeError(f"{command} did not answer within 30 s")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                    sock.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                    reply = sock.recv(64)
            except OSError:
                time.sleep(0.001)
                continue
            if reply.startswith(b"HTTP/1.") and b" 200 " in reply[:16]:
                return (time.perf_counter() - started) * 1000
            raise RuntimeError(f"{command}: {reply!r}")
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bench_first_page(runs: int) -> bool:
    with tempfile.TemporaryDirectory() as folder:
        site = Path(folder) / "site"
        site.mkdir()
        (site / "index.html").write_text("<!doctype html><title>hi</title><p>hi\n")
        data = Path(folder) / "datebook.sqlite3"

        def http_server() -> float:
            port = free_port()
            command = [PYTHON, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
            return first_page(command, port, site)

        def kali() -> float:
            port = free_port()
            command = [PYTHON, "-m", "kali", str(site), "--port", str(port),
                       "--no-browser"]  # fmt: skip
            return first_page(command, port, ROOT)

        def datebook() -> float:
            port = free_port()
            command = [PYTHON, "-m", "datebook", "--port", str(port), "--no-browser",
                       "--db", str(data)]  # fmt: skip
            return first_page(command, port, ROOT / "examples")

        cases = {"http.server": http_server, "kali": kali, "datebook": datebook}
        medians = interleaved(cases, runs)
    print(f"first page: process start to the first 200 on GET / (median of {runs})")
    for name, value in medians.items():
        print(f"  {name:<12} {value:6.1f} ms")
    ratio = medians["kali"] / medians["http.server"]
    met = ratio <= FIRST_PAGE_RATIO
    print(f"  goal: python -m kali <= {FIRST_PAGE_RATIO} x http.server: "
          f"{ratio:.2f} -> {'met' if met else 'NOT met'}")  # fmt: skip
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--only", default="import,first-page")
    options = parser.parse_args(argv)
    wanted = set(options.only.split(","))
    results = []
    if "import" in wanted:
        results.append(bench_import(options.runs))
    if "first-page" in wanted:
        results.append(bench_first_page(options.runs))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
