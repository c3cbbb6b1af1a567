"""kali.console: the terminal command loop, driven through a pipe (in
process) and through a pseudo-terminal (a real program, readline included)."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from kali import console as console_module
from kali.console import Commands, Console, attach_console, program_command
from kali.launch import serve_http
from kali.server import Server

ROOT = Path(__file__).resolve().parents[1]


class Lines:
    """A pipe standing in for the terminal: ``send(text)`` types a line."""

    def __init__(self) -> None:
        read_fd, write_fd = os.pipe()
        self.reader = os.fdopen(read_fd, "r", encoding="utf-8")
        self.writer = os.fdopen(write_fd, "w", encoding="utf-8")

    def send(self, line: str) -> None:
        self.writer.write(line + "\n")
        self.writer.flush()

    def close(self) -> None:
        if not self.writer.closed:
            self.writer.close()
        self.reader.close()


class Output(io.StringIO):
    """stdout for the console; ``wait_for(text)`` polls until it appears."""

    def wait_for(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.getvalue():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared in {self.getvalue()!r}")
            time.sleep(0.01)
        return self.getvalue()


@pytest.fixture
def lines():
    pipe = Lines()
    yield pipe
    pipe.close()


@pytest.fixture
def running(lines):
    """``start(handler, commands) -> (server, output)``: a Server in a thread
    with a console reading from ``lines``; stopped and detached at teardown."""
    started = []

    def start(handler, commands=True):
        server = Server(handler, port=0)
        server.bind()
        output = Output()
        detach = attach_console(server, commands, stdin=lines.reader, stdout=output)
        assert detach is not None
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((server, thread, detach))
        return server, output

    yield start
    for server, thread, detach in started:
        server.stop()
        thread.join(10)
        assert not thread.is_alive()
        detach()
        lines.writer.close()  # EOF: the reader thread ends
        detach.__self__.thread.join(10)
        assert not detach.__self__.thread.is_alive()


def get(server, path="/"):
    with urllib.request.urlopen(f"{server.url.rstrip('/')}{path}", timeout=10) as r:
        return r.read().decode()


def test_help_lists_builtins_and_app_commands(running, lines):
    commands = Commands()

    @commands.command
    def stats(args):
        """Show how busy the app is.

        More text that help does not show."""
        return "busy"

    @commands.command(name="add-user")
    def add_user(args):
        return None

    server, output = running(lambda request: "hi", commands)
    lines.send("help")
    text = output.wait_for("stats")
    for name in ("help", "quit", "restart", "add-user"):
        assert f"  {name} " in text or f"  {name}\n" in text
    assert "Show how busy the app is." in text and "More text" not in text


def test_custom_command_runs_on_the_server_thread_between_requests(running, lines):
    order = []
    threads = []
    commands = Commands()

    @commands.command
    def mark(args):
        """Leave a mark."""
        threads.append(threading.current_thread())
        order.append(f"mark {args}")
        return f"marked {args}"

    def handler(request):
        threads.append(threading.current_thread())
        order.append(request.uri)
        return "ok"

    server, output = running(handler, commands)
    assert get(server, "/one") == "ok"
    lines.send("mark  two words ")
    output.wait_for("marked two words")
    assert get(server, "/two") == "ok"
    assert order == ["/one", "mark two words", "/two"]
    assert len(set(threads)) == 1 and threads[0] is not threading.current_thread()


def test_a_command_never_runs_during_a_request(running, lines):
    order = []
    inside = threading.Event()
    commands = Commands()
    commands.add("note", lambda: order.append("command"))

    def slow(request):
        order.append("request started")
        inside.set()
        time.sleep(0.3)
        order.append("request ended")
        return "done"

    server, output = running(slow, commands)
    fetched = []
    client = threading.Thread(target=lambda: fetched.append(get(server)))
    client.start()
    assert inside.wait(10)
    lines.send("note")  # typed while the request is being served
    client.join(10)
    deadline = time.monotonic() + 10
    while "command" not in order and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fetched == ["done"]
    assert order == ["request started", "request ended", "command"]


def test_failing_command_is_reported_and_the_server_lives(running, lines, caplog):
    commands = Commands()

    @commands.command
    def explode():
        raise RuntimeError("kaboom")

    server, output = running(lambda request: "alive", commands)
    with caplog.at_level(logging.ERROR, logger="kali"):
        lines.send("explode")
        text = output.wait_for("kaboom")
    assert "explode failed: RuntimeError: kaboom" in text
    assert "kaboom" in caplog.text
    lines.send("nonsense")
    output.wait_for("Unknown command 'nonsense'")
    lines.send("")  # blank lines are ignored
    assert get(server) == "alive"


def test_quit_stops_the_server(lines):
    server = Server(lambda request: "hi", port=0)
    server.bind()
    output = Output()
    detach = attach_console(server, True, stdin=lines.reader, stdout=output)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    lines.send("quit")
    thread.join(10)
    assert not thread.is_alive() and server.listener is None
    assert "Stopping." in output.getvalue()
    detach()
    lines.writer.close()
    detach.__self__.thread.join(10)
    assert not detach.__self__.thread.is_alive()


class FakeTerminal:
    """A pipe that claims to be a tty, standing in for sys.stdin."""

    def __init__(self, stream):
        self.stream = stream
        self.closed = False

    def isatty(self):
        return True

    def readline(self, *args):
        return self.stream.readline(*args)


def test_quit_ends_serve_http_cleanly(lines, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", FakeTerminal(lines.reader))
    ready = threading.Event()
    servers = []

    def on_ready(server):
        servers.append(server)
        ready.set()

    finished = []

    def run():
        serve_http(
            lambda request: "hi", port=0, start=None, commands=True, on_ready=on_ready
        )
        finished.append(True)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    assert get(servers[0]) == "hi"
    lines.send("quit")
    thread.join(10)
    assert finished == [True] and servers[0].listener is None
    lines.writer.close()  # let the reader see EOF
    for reader in threading.enumerate():
        if reader.name == "kali-console":
            reader.join(10)
            assert not reader.is_alive()
    assert "Stopping." in capsys.readouterr().out


def test_no_terminal_no_console(monkeypatch):
    server = Server(lambda request: "hi", port=0)
    monkeypatch.setattr(sys, "stdin", io.StringIO("quit\n"))  # not a tty
    assert attach_console(server, True) is None
    monkeypatch.setattr(sys, "stdin", None)  # pythonw: no stdin at all
    assert attach_console(server, Commands()) is None
    assert attach_console(server, False) is None


def test_lines_after_detach_are_ignored(lines):
    server = Server(lambda request: "hi", port=0)
    ran = []
    commands = Commands()
    commands.add("record", lambda args: ran.append(args))
    detach = attach_console(server, commands, stdin=lines.reader, stdout=Output())
    detach()
    lines.send("record late")
    lines.writer.close()
    detach.__self__.thread.join(10)
    server._run_pending()
    assert ran == []


def test_restart_stops_the_server_then_restarts_at_detach():
    server = Server(lambda request: "hi", port=0)
    restarts = []
    output = Output()
    console = Console(
        server, Commands(), io.StringIO(), output, restart=lambda: restarts.append(1)
    )
    console.execute("restart")
    assert server._stopping and restarts == []
    console.detach()
    console.detach()  # idempotent
    assert restarts == [1] and "Restarting." in output.getvalue()


def test_zero_argument_and_argument_commands():
    server = Server(lambda request: "hi", port=0)
    output = Output()
    commands = Commands()
    commands.add("hello", lambda: "hello!")
    commands.add("echo", lambda args: f"<{args}>")
    commands.add("silent", lambda args: None)
    console = Console(server, commands, io.StringIO(), output)
    for line in ("hello", "echo a  b", "silent x", "exit"):
        console.execute(line)
    assert output.getvalue().splitlines() == ["hello!", "<a  b>", "Stopping."]


@pytest.mark.parametrize(
    ("name", "function"),
    [
        ("help", lambda: None),
        ("quit", lambda: None),
        ("restart", lambda: None),
        ("two words", lambda: None),
        ("", lambda: None),
        ("fine", "not callable"),
    ],
)
def test_bad_registrations_raise_value_error(name, function):
    with pytest.raises(ValueError):
        Commands().add(name, function)


def test_duplicate_command_raises():
    commands = Commands()
    commands.add("x", lambda: None)
    with pytest.raises(ValueError):
        commands.add("x", lambda: None)
    assert commands.names() == ["exit", "help", "quit", "restart", "x"]


def test_program_command_repeats_the_command_line():
    argv = program_command()
    assert argv[0] == sys.executable
    if hasattr(sys, "orig_argv"):
        assert argv[1:] == sys.orig_argv[1:]


def test_completion_offers_command_names(monkeypatch):
    readline = pytest.importorskip("readline")
    server = Server(lambda request: "hi", port=0)
    commands = Commands()
    commands.add("stats", lambda: None)
    commands.add("status", lambda: None)
    console = Console(server, commands, io.StringIO(), Output())
    monkeypatch.setattr(readline, "get_line_buffer", lambda: "sta")
    monkeypatch.setattr(readline, "get_begidx", lambda: 0)
    found = []
    state = 0
    while (match := console.complete("sta", state)) is not None:
        found.append(match)
        state += 1
    assert found == ["stats ", "status "]
    monkeypatch.setattr(readline, "get_line_buffer", lambda: "stats sta")
    monkeypatch.setattr(readline, "get_begidx", lambda: 6)
    assert console.complete("sta", 0) is None  # only the first word completes


# -- a real program on a pseudo-terminal -----------------------------------------

PROGRAM = textwrap.dedent(
    """
    import os, sys
    from kali import serve_http
    from kali.console import Commands

    with open(sys.argv[1], "a") as marker:
        marker.write("started\\n")
    commands = Commands()

    @commands.command
    def stats():
        '''Show the statistics.'''
        return f"STATS:{os.getpid()}"

    def ready(server):
        # A restart execs this program again with this environment: it
        # binds the same port, which works only once the old socket is closed.
        os.environ["TEST_CONSOLE_PORT"] = str(server.port)
        print("READY", server.port, flush=True)

    serve_http(
        lambda request: "hi",
        port=int(os.environ.get("TEST_CONSOLE_PORT", "0")),
        start=None,
        commands=commands,
        on_ready=ready,
    )
    print("RETURNED", flush=True)
    """
)


class Terminal:
    """A program running on a pseudo-terminal; ``type`` and ``expect``."""

    def __init__(self, tmp_path: Path) -> None:
        import pty

        self.master, self.slave = pty.openpty()
        script = tmp_path / "program.py"
        script.write_text(PROGRAM, encoding="utf-8")
        self.marker = tmp_path / "marker.txt"
        self.port = 0
        env = dict(os.environ, PYTHONPATH=str(ROOT), TERM="dumb")
        env.pop("TEST_CONSOLE_PORT", None)
        self.process = subprocess.Popen(
            [sys.executable, str(script), str(self.marker)],
            stdin=self.slave,
            stdout=self.slave,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.seen = b""

    def expect(self, text: str, timeout: float = 15.0) -> str:
        import select

        wanted = text.encode()
        deadline = time.monotonic() + timeout
        while wanted not in self.seen:
            remaining = deadline - time.monotonic()
            readable, _, _ = select.select([self.master], [], [], max(remaining, 0))
            if not readable:
                raise AssertionError(f"{text!r} never came; got {self.seen!r}")
            try:
                self.seen += os.read(self.master, 4096)
            except OSError:
                raise AssertionError(f"EOF before {text!r}: {self.seen!r}") from None
        before, _, after = self.seen.partition(wanted)
        self.seen = after
        return (before + wanted).decode(errors="replace")

    def expect_ready(self) -> int:
        self.expect("READY ")
        self.port = int(self.expect("\n").strip())
        return self.port

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def lflag(self) -> int:
        import termios

        return int(termios.tcgetattr(self.slave)[3])

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def terminal(tmp_path):
    if not hasattr(os, "openpty"):
        pytest.skip("pseudo-terminals are POSIX only")
    term = Terminal(tmp_path)
    yield term
    term.close()


def test_program_on_a_terminal_quits_and_restores_the_terminal(terminal):
    import termios

    terminal.expect_ready()
    assert get_url(terminal.port) == "hi"
    terminal.type("help\n")
    terminal.expect("stats")
    terminal.type("quit\n")
    terminal.expect("RETURNED")
    assert terminal.process.wait(15) == 0
    flags = terminal.lflag()
    assert flags & termios.ECHO and flags & termios.ICANON


def test_tab_completes_command_names(terminal):
    try:
        import readline  # noqa: F401
    except ImportError:
        pytest.skip("no readline in this Python")
    terminal.expect_ready()
    terminal.type("sta\t\n")
    text = terminal.expect("STATS:")
    assert "stats" in text
    terminal.type("quit\n")
    assert terminal.process.wait(15) == 0


def test_restart_runs_the_program_again_after_the_socket_is_closed(terminal):
    port = terminal.expect_ready()
    assert get_url(port) == "hi"
    terminal.type("restart\n")
    terminal.expect("Restarting.")
    terminal.expect("RETURNED")  # serve_http returned and the program ended...
    terminal.expect(f"READY {terminal.port}")  # ...then bound the same port again
    assert get_url(terminal.port) == "hi"
    terminal.type("stats\n")
    terminal.expect("STATS:")
    terminal.type("quit\n")
    terminal.expect("RETURNED")
    assert terminal.process.wait(15) == 0
    assert terminal.marker.read_text().splitlines() == ["started", "started"]


def get_url(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as reply:
        return reply.read().decode()


def test_console_module_has_no_socket_import():
    assert "socket" not in console_module.__dict__
