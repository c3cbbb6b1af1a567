"""``python -m kali [DIR] [--port N] [--bind ADDRESS] [--no-browser]``

A static file server for a folder, like ``python -m http.server`` but safe to
point a browser at: it listens on 127.0.0.1 only (unless ``--bind`` says
otherwise), refuses requests for other host names (DNS rebinding) and
cross-site form posts, never serves a file outside DIR or a ``.``/``_``
name, streams big files with ``sendfile`` and answers Range requests so
audio and video can seek. It opens the browser at the folder.

This module only parses arguments and starts the server; it holds no logic
of its own.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .launch import serve_http
from .routing import Router
from .static import StaticFolder


def make_app(folder: str) -> Router:
    """A Router serving ``folder`` at ``/`` (``index.html`` if present, else
    a listing)."""
    router = Router()
    router.delegate_folder("/", StaticFolder(folder, index="index.html"))
    return router


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m kali",
        description="Serve a folder to your browser, safely, on this computer only.",
    )
    parser.add_argument(
        "folder",
        nargs="?",
        default=".",
        metavar="DIR",
        help="folder to serve (default: .); a bare number is the port, as with "
        "python -m http.server 8000",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8000,
        help="port to listen on (default: 8000; 0 = any)",
    )
    parser.add_argument(
        "--bind",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="address to listen on (default: 127.0.0.1, this computer only)",
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="do not open a browser"
    )
    args = parser.parse_args(argv)
    if (
        args.folder.isdecimal()
        and args.folder.isascii()
        and not os.path.isdir(args.folder)
    ):
        args.port, args.folder = int(args.folder), "."  # python -m kali 8000
    if not os.path.isdir(args.folder):
        parser.error(f"{args.folder!r} is not a folder")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the server until Ctrl-C; the exit status."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    folder = os.path.abspath(args.folder)
    if args.bind not in ("127.0.0.1", "localhost", "::1"):
        logging.getLogger("kali").warning(
            "Listening on %s: other computers may read %s", args.bind, folder
        )
    print(f"Serving {folder} (press Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        serve_http(
            make_app(folder),
            port=args.port,
            address=args.bind,
            start=None if args.no_browser else "",
        )
    except KeyboardInterrupt:
        return 0
    except OSError as error:
        print(f"Cannot listen on {args.bind}:{args.port}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
