"""Helpers for the tests that run kali with real WSGI servers and frameworks.

The servers and frameworks (gunicorn, waitress, Flask, Django) are test
extras: :func:`require` skips a test without one on a developer's machine,
and fails it under CI (``CI=true``), where every extra must be installed.
:class:`ServerProcess` runs a server as a subprocess on 127.0.0.1 and a free
port, and stops it by its own handle; :func:`serving_wsgi` runs
``kali.wsgi.serve_wsgi`` in a thread.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import importlib
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def require(module_name: str) -> ModuleType:
    """Import a test extra: skip without it, except under CI, where a
    missing extra fails the test (ImportError)."""
    if os.environ.get("CI") == "true":
        return importlib.import_module(module_name)
    return pytest.importorskip(module_name)


def subprocess_environment(**extra: str) -> dict[str, str]:
    """The environment for a server subprocess: this checkout's kali first."""
    environment = dict(os.environ)
    paths = [str(ROOT), *filter(None, [environment.get("PYTHONPATH")])]
    environment["PYTHONPATH"] = os.pathsep.join(paths)
    environment.pop("KALI_SECRET", None)
    environment.update(extra)
    return environment


class ServerProcess:
    """A server subprocess that prints the URL it listens on.

    ``ServerProcess(args, ready=regex)`` starts it; :meth:`wait_port` reads
    its output until ``ready`` (whose group ``port`` is the port) matches;
    :meth:`stop` terminates it, by its own handle. The output is kept for
    error messages.
    """

    def __init__(
        self,
        args: list[str],
        *,
        ready: str,
        cwd: Path,
        environment: dict[str, str] | None = None,
    ) -> None:
        self._ready = re.compile(ready)
        self.lines: list[str] = []
        self.port: int | None = None
        self._found = threading.Event()
        self.process = subprocess.Popen(
            args,
            cwd=cwd,
            env=environment or subprocess_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if self.port is None:
                found = self._ready.search(line)
                if found:
                    self.port = int(found.group("port"))
                    self._found.set()
        self._found.set()  # the process ended: stop waiting

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_port(self, seconds: float = 60) -> int:
        self._found.wait(seconds)
        if self.port is None:
            raise AssertionError(f"the server did not start:\n{self.output}")
        return self.port

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(15)
        self._reader.join(15)
        if self.process.stdout is not None:
            self.process.stdout.close()


@contextlib.contextmanager
def server_process(
    args: list[str], *, ready: str, cwd: Path, environment: dict[str, str]
) -> Iterator[ServerProcess]:
    server = ServerProcess(args, ready=ready, cwd=cwd, environment=environment)
    try:
        server.wait_port()
        yield server
    except BaseException:
        server.stop()
        print(f"The server's output:\n{server.output}")  # shown with the failure
        raise
    server.stop()


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


@contextlib.contextmanager
def serving_wsgi(app: Any, **options: Any) -> Iterator[Any]:
    """``serve_wsgi(app)`` in a thread on 127.0.0.1 and a free port; yields
    the kali Server (``.port``), and stops it at the end."""
    from kali.wsgi import serve_wsgi

    ready = threading.Event()
    servers: list[Any] = []

    def on_ready(server: Any) -> None:
        servers.append(server)
        ready.set()

    options.setdefault("port", 0)
    thread = threading.Thread(
        target=serve_wsgi,
        args=(app,),
        kwargs=dict(start=None, on_ready=on_ready, **options),
        daemon=True,
    )
    thread.start()
    assert ready.wait(10), "serve_wsgi did not start"
    try:
        yield servers[0]
    finally:
        servers[0].stop()
        thread.join(10)
        assert not thread.is_alive()


class Browser:
    """A cookie-keeping HTTP client for one server (urllib), which follows
    redirects and sends the Origin a browser sends with a form POST."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies)
        )

    def request(
        self,
        path: str,
        data: dict[str, str] | list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str, str, dict[str, str]]:
        """``(status, final URL, text, headers)`` of GET (or POST with ``data``)."""
        body = None
        all_headers = dict(headers or {})
        if data is not None:
            body = urllib.parse.urlencode(data).encode()
            all_headers.setdefault("Origin", self.base)
        request = urllib.request.Request(
            self.base + path, data=body, headers=all_headers
        )
        try:
            with self.opener.open(request, timeout=30) as response:
                text = response.read().decode("utf-8", "replace")
                return (
                    response.status,
                    response.geturl(),
                    text,
                    {name.lower(): value for name, value in response.getheaders()},
                )
        except urllib.error.HTTPError as error:
            with error:
                text = error.read().decode("utf-8", "replace")
            return error.code, error.geturl(), text, dict(error.headers.items())
