"""Streaming through WSGI: how long after the app yields an event the client has it.

    python3 bench/bench_wsgi_stream.py [--servers kali,flask,gunicorn,waitress]
                                       [--events N] [--interval SECONDS]

A WSGI app yields server-sent events, each carrying the time it was yielded
(``time.monotonic()``, one clock for every process on the machine), with a
pause between them. A client on 127.0.0.1 reads the stream and notes, per
event, how long after its yield it arrived. Servers:

* ``kali``     -- the plain WSGI app under ``kali.wsgi.serve_wsgi`` (in a
                  thread of this process);
* ``flask``    -- the same events from a Flask route (``flask.Response`` of
                  a generator) under ``serve_wsgi``;
* ``gunicorn`` and ``waitress`` -- the plain app under those servers (as
                  subprocesses), for comparison.

The target (issue 16): under kali, every event, the first included, within
50 ms of its yield (gunicorn: about 4 ms, waitress: 2 ms). Servers not
installed are skipped. The exit status is 1 when kali misses the target.
Everything goes to 127.0.0.1; every server is stopped by this script.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kali.wsgi import serve_wsgi  # noqa: E402

TARGET_SECONDS = 0.050

APP_SOURCE = """
import os
import time

EVENTS = int(os.environ.get("BENCH_EVENTS", "5"))
INTERVAL = float(os.environ.get("BENCH_INTERVAL", "0.2"))


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/event-stream")])

    def events():
        for number in range(EVENTS):
            if number:
                time.sleep(INTERVAL)
            yield f"data: {time.monotonic():.6f}\\n\\n".encode()

    return events()
"""


def load_app(folder: Path) -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(APP_SOURCE, str(folder / "stream_app.py"), "exec"), namespace)
    return namespace["application"]


def flask_app(events: int, interval: float) -> Any:
    import flask

    app = flask.Flask("bench")

    @app.route("/")
    def stream() -> Any:
        def generate() -> Iterator[str]:
            for number in range(events):
                if number:
                    time.sleep(interval)
                yield f"data: {time.monotonic():.6f}\n\n"

        return flask.Response(generate(), mimetype="text/event-stream")

    return app


def read_delays(port: int, events: int) -> list[float]:
    """Per event: seconds between its yield and its arrival here."""
    delays: list[float] = []
    buffer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.sendall(
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        while len(delays) < events:
            data = client.recv(65536)
            arrived = time.monotonic()
            if not data:
                break
            buffer += data
            for stamp in re.findall(rb"data: ([0-9.]+)\n\n", buffer):
                delays.append(arrived - float(stamp))
            buffer = (
                buffer[buffer.rfind(b"\n\n") + 2 :] if b"\n\n" in buffer else buffer
            )
    return delays


@contextmanager
def kali_server(app: Any) -> Iterator[int]:
    ready = threading.Event()
    servers: list[Any] = []

    def on_ready(server: Any) -> None:
        servers.append(server)
        ready.set()

    thread = threading.Thread(
        target=serve_wsgi,
        args=(app,),
        kwargs={"port": 0, "start": None, "on_ready": on_ready},
        daemon=True,
    )
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("serve_wsgi did not start")
    try:
        yield servers[0].port
    finally:
        servers[0].stop()
        thread.join(10)


SUBPROCESS_SERVERS = {
    "gunicorn": (
        ["-m", "gunicorn", "--workers", "1", "--bind", "127.0.0.1:0"],
        r"Listening at: http://127\.0\.0\.1:([0-9]+)",
    ),
    "waitress": (
        ["-m", "waitress", "--listen=127.0.0.1:0"],
        r"Serving on http://127\.0\.0\.1:([0-9]+)",
    ),
}


@contextmanager
def subprocess_server(
    name: str, folder: Path, events: int, interval: float
) -> Iterator[int]:
    arguments, ready = SUBPROCESS_SERVERS[name]
    environment = dict(os.environ, BENCH_EVENTS=str(events))
    environment["BENCH_INTERVAL"] = str(interval)
    process = subprocess.Popen(
        [sys.executable, *arguments, "stream_app:application"],
        cwd=folder,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = None
        deadline = time.monotonic() + 30
        while port is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            found = re.search(ready, line)
            if found:
                port = int(found.group(1))
        if port is None:
            raise RuntimeError(f"{name} did not start")
        # Keep reading its output, so that a full pipe never blocks it.
        threading.Thread(target=process.stdout.read, daemon=True).start()
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def is_installed(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", default="kali,flask,gunicorn,waitress")
    parser.add_argument("--events", type=int, default=5)
    parser.add_argument("--interval", type=float, default=0.2)
    options = parser.parse_args()
    missed = False
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        (folder / "stream_app.py").write_text(APP_SOURCE, encoding="utf-8")
        os.environ["BENCH_EVENTS"] = str(options.events)
        os.environ["BENCH_INTERVAL"] = str(options.interval)
        print(f"{'server':<10} {'first ms':>9} {'median ms':>10} {'max ms':>8}  target")
        for name in options.servers.split(","):
            module = "flask" if name == "flask" else name
            if name != "kali" and not is_installed(module):
                print(f"{name:<10} (not installed)")
                continue
            if name == "kali":
                server = kali_server(load_app(folder))
            elif name == "flask":
                server = kali_server(flask_app(options.events, options.interval))
            else:
                server = subprocess_server(
                    name, folder, options.events, options.interval
                )
            with server as port:
                delays = read_delays(port, options.events)
            if len(delays) < options.events:
                print(f"{name:<10} got {len(delays)} of {options.events} events")
                missed = missed or name in ("kali", "flask")
                continue
            met = max(delays) <= TARGET_SECONDS
            verdict = "met" if met else "MISSED"
            if name not in ("kali", "flask"):
                verdict = "(for comparison)"
            else:
                missed = missed or not met
            print(
                f"{name:<10} {delays[0] * 1000:9.1f} "
                f"{statistics.median(delays) * 1000:10.1f} "
                f"{max(delays) * 1000:8.1f}  <= {TARGET_SECONDS * 1000:.0f} ms",
                verdict,
            )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
