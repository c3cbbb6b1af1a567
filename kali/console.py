"""kali.console: commands typed in the terminal, run between two requests.

``serve_http(app, commands=True)`` gives a terminal-launched app a command
loop: ``help``, ``quit`` (a clean shutdown) and ``restart`` (start the
program again). An app adds its own with a :class:`Commands` set::

    commands = Commands()

    @commands.command
    def stats(args):
        '''How many tasks there are.'''
        return f"{count_tasks()} tasks"

    serve_http(app, commands=commands)

Rule 1: the reader thread only reads lines. Each line is handed to
``Server.call_soon``, so every command runs on the server thread between two
requests and the app stays single-threaded (SQLite connections included).
Rule 2: without a terminal (stdin is not a tty: a pipe, a service, an IDE
runner) there is no loop at all. Command names complete with Tab where
``readline`` exists. This module never touches sockets.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, TypeVar, overload

if TYPE_CHECKING:
    from .server import Server

__all__ = ["Command", "Commands", "attach_console", "program_command"]

log = logging.getLogger("kali")

F = TypeVar("F", bound=Callable[..., Any])

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*\Z")

#: The console's own commands: (name, summary) in the order help lists them.
BUILT_INS = (
    ("help", "list the commands"),
    ("quit", "stop the server (also: exit)"),
    ("restart", "stop the server, then start the program again"),
)
_RESERVED = frozenset({"help", "quit", "exit", "restart"})


@dataclass(frozen=True)
class Command:
    """One app-defined command: ``function(args)`` (or ``function()`` when it
    takes no parameter) returns text to print, or None."""

    name: str
    function: Callable[..., Any]
    summary: str
    takes_args: bool

    def run(self, args: str) -> Any:
        return self.function(args) if self.takes_args else self.function()


def _takes_args(function: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # some builtins have no signature
        return True
    return any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
        for p in parameters
    )


class Commands:
    """An app's console commands. Register with ``@commands.command`` (the
    name is the function's) or ``@commands.command(name="add-user")``; the
    first line of the docstring is the help text. A command gets the rest of
    the line as one string (if it takes a parameter) and returns text to
    print or None. ``help``, ``quit``, ``exit`` and ``restart`` are built in.
    """

    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}

    @overload
    def command(self, function: F) -> F: ...

    @overload
    def command(self, *, name: str | None = None) -> Callable[[F], F]: ...

    def command(
        self, function: F | None = None, *, name: str | None = None
    ) -> F | Callable[[F], F]:
        """Decorator: register ``function`` as a command. Raises ValueError
        for a taken, reserved or malformed name."""

        def register(fn: F) -> F:
            self.add(name or fn.__name__, fn)
            return fn

        return register if function is None else register(function)

    def add(self, name: str, function: Callable[..., Any]) -> None:
        """Register ``function`` under ``name`` (ValueError if taken or bad)."""
        if not callable(function):
            raise ValueError(f"A command must be callable, not {function!r}")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"A command name is one word, not {name!r}")
        if name in _RESERVED:
            raise ValueError(f"{name!r} is a built-in command")
        if name in self._commands:
            raise ValueError(f"There already is a command {name!r}")
        doc = inspect.getdoc(function) or ""
        summary = doc.strip().splitlines()[0] if doc.strip() else ""
        self._commands[name] = Command(name, function, summary, _takes_args(function))

    def get(self, name: str) -> Command | None:
        return self._commands.get(name)

    def names(self) -> list[str]:
        """Every command name, built-ins included, sorted."""
        return sorted(_RESERVED | set(self._commands))

    def __iter__(self) -> Iterator[Command]:
        return iter(sorted(self._commands.values(), key=lambda c: c.name))

    def __repr__(self) -> str:
        return f"<Commands {sorted(self._commands)}>"


def program_command() -> list[str]:
    """The command line that started this program, to start it again: the
    interpreter, its options, then the script or ``-m module`` and arguments."""
    original = getattr(sys, "orig_argv", None)  # Python 3.10+
    if original:
        return [sys.executable, *original[1:]]
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:  # started with python -m
        name = spec.name
        if name.endswith(".__main__"):
            name = name[: -len(".__main__")]
        return [sys.executable, "-m", name, *sys.argv[1:]]
    return [sys.executable, *sys.argv]


def restart_program() -> None:
    """Replace this process with a fresh run of the same command line.

    Called at exit, once ``serve_http`` has returned and closed its sockets
    and the program has finished its own cleanup. On Windows, where
    ``os.execv`` cannot keep the console, a child runs and its exit status
    becomes ours.
    """
    argv = program_command()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    if sys.platform == "win32":
        os._exit(subprocess.call(argv))
    os.execv(sys.executable, argv)


def schedule_restart() -> None:
    """Run :func:`restart_program` when this program exits normally."""
    atexit.register(restart_program)


class Console:
    """One attached command loop; see :func:`attach_console`."""

    def __init__(
        self,
        server: Server,
        commands: Commands,
        stdin: IO[str] | None,
        stdout: IO[str],
        *,
        restart: Callable[[], None] = schedule_restart,
    ) -> None:
        self.server = server
        self.commands = commands
        #: None means the real terminal, read with input() for line editing.
        self.stdin = stdin
        self.stdout = stdout
        self.restart = restart
        self.restart_requested = False
        self._detached = threading.Event()
        self._names = tuple(commands.names())
        self._undo: list[Callable[[], None]] = []
        self.thread = threading.Thread(
            target=self._read_lines, name="kali-console", daemon=True
        )

    # -- the reader thread: reads lines, nothing else ------------------------

    def start(self) -> None:
        if self.stdin is None:
            self._save_terminal()
            self._install_completion()
        self.thread.start()

    def _read_line(self) -> str | None:
        if self.stdin is None:
            try:
                return input()
            except EOFError:
                return None
        line = self.stdin.readline()
        return line if line else None

    def _read_lines(self) -> None:
        try:
            while not self._detached.is_set():
                line = self._read_line()
                if line is None or self._detached.is_set():
                    break
                self.server.call_soon(functools.partial(self.execute, line))
        except (OSError, ValueError):  # the stream was closed under us
            pass
        except Exception:
            log.exception("The console stopped reading")

    # -- on the server thread ----------------------------------------------------

    def say(self, text: str) -> None:
        try:
            print(text, file=self.stdout, flush=True)
        except (OSError, ValueError):
            pass

    def execute(self, line: str) -> None:
        """Run one command line (on the server thread)."""
        if self._detached.is_set():
            return
        words = line.strip().split(None, 1)
        if not words:
            return
        name, args = words[0], (words[1] if len(words) > 1 else "")
        if name == "help":
            self.say(self.help_text())
        elif name in ("quit", "exit"):
            self.say("Stopping.")
            self.server.stop()
        elif name == "restart":
            self.say("Restarting.")
            self.restart_requested = True
            self.server.stop()
        else:
            command = self.commands.get(name)
            if command is None:
                self.say(f"Unknown command {name!r}; type help for the list.")
                return
            try:
                result = command.run(args)
            except Exception as error:
                self.server.log.exception("Console command %r failed", name)
                self.say(f"{name} failed: {type(error).__name__}: {error}")
                return
            if result is not None:
                self.say(str(result))

    def help_text(self) -> str:
        rows = list(BUILT_INS) + [(c.name, c.summary) for c in self.commands]
        width = max(len(name) for name, _ in rows)
        lines = ["Commands:"]
        lines += [f"  {name:<{width}}  {summary}".rstrip() for name, summary in rows]
        return "\n".join(lines)

    # -- terminal niceties (the real terminal only) -----------------------------

    def complete(self, text: str, state: int) -> str | None:
        """readline completer: command names, for the first word only."""
        if sys.platform == "win32":
            return None
        import readline

        if readline.get_line_buffer()[: readline.get_begidx()].strip():
            return None
        matches = [name + " " for name in self._names if name.startswith(text)]
        return matches[state] if state < len(matches) else None

    def _install_completion(self) -> None:
        if sys.platform == "win32":
            return
        try:
            import readline
        except ImportError:
            return
        previous = readline.get_completer()
        readline.set_completer(self.complete)
        if "libedit" in (readline.__doc__ or ""):  # macOS
            readline.parse_and_bind("bind ^I rl_complete")
        else:
            readline.parse_and_bind("tab: complete")
        self._undo.append(lambda: readline.set_completer(previous))

    def _save_terminal(self) -> None:
        # readline puts the terminal in raw mode while it waits for a line;
        # the reader thread is still waiting when the server stops, so put
        # the terminal back or the user's shell is left without echo.
        if sys.platform == "win32":
            return
        import termios

        try:
            fd = sys.stdin.fileno()
            saved = termios.tcgetattr(fd)
        except (OSError, ValueError, AttributeError, termios.error):
            return

        def restore() -> None:
            try:
                termios.tcsetattr(fd, termios.TCSANOW, saved)
            except (OSError, termios.error):
                pass

        self._undo.append(restore)

    # -- shutdown ----------------------------------------------------------------

    def detach(self) -> None:
        """Stop handing lines to the server (the reader, a daemon thread, ends
        at its next line or EOF), restore the terminal, and if ``restart`` was
        asked, schedule it for when the program exits."""
        if self._detached.is_set():
            return
        self._detached.set()
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()
        if self.thread.is_alive() and self.stdin is not None:
            self.thread.join(0.1)
        if self.restart_requested:
            self.restart()


def _is_terminal(stream: Any) -> bool:
    try:
        return stream is not None and not stream.closed and bool(stream.isatty())
    except (AttributeError, OSError, ValueError):
        return False


def attach_console(
    server: Server,
    commands: bool | Commands,
    *,
    stdin: IO[str] | None = None,
    stdout: IO[str] | None = None,
) -> Callable[[], None] | None:
    """Start the command loop for ``server``; ``serve_http(commands=...)``
    calls this once the server is bound.

    ``commands`` is True (the built-ins only) or a :class:`Commands`. Lines
    are read by a daemon thread that only reads and hands each line to
    ``server.call_soon``: commands run on the server thread. Without an
    explicit ``stdin`` the terminal is used, with line editing and Tab
    completion where ``readline`` exists; when stdin is not a terminal,
    nothing starts and None is returned. Otherwise returns the function that
    detaches the console at shutdown (and, after ``restart``, arranges for
    the program to start again once it has exited).
    """
    if not commands:
        return None
    command_set = commands if isinstance(commands, Commands) else Commands()
    if stdin is None and not _is_terminal(sys.stdin):
        return None
    output = stdout if stdout is not None else sys.stdout
    if output is None:
        return None
    console = Console(server, command_set, stdin, output)
    console.start()
    console.say("Type help for the console commands.")
    return console.detach
