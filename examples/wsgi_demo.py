"""WSGI both ways: a plain WSGI app inside kali, and kali under wsgiref.

Run it with ``./demo.sh wsgi_demo``: kali serves a small Router with a plain
WSGI application mounted at /legacy/ and a streaming one at /ticks/, and
reads commands from the terminal (type ``help``, ``visits`` or ``quit``).
Run ``./demo.sh wsgi_demo --wsgiref`` to serve the very same Router with the
standard library's ``wsgiref`` server instead, the way waitress or gunicorn
would run it. ``wsgiref`` checks no Host header; ``to_wsgi`` applies kali's
own localhost checks, so a DNS-rebinding page gets 403 there too.
"""

import logging
import sys
import time
from wsgiref.simple_server import make_server

from kali import Response, Router, Template, launch_arguments, run_app
from kali.console import Commands
from kali.wsgi import from_wsgi, to_wsgi

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

PAGE = Template(
    """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>WSGI both ways</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}</style>
</head><body>
<h1>WSGI both ways</h1>
<p>This page comes from a kali Router, served by <b>{server}</b>.</p>
<ul>
<li><a href="/hello/World">/hello/World</a>: a kali function</li>
<li><a href="/legacy/">/legacy/</a>: a plain WSGI application, mounted in the
Router (it sees SCRIPT_NAME=/legacy)</li>
<li><a href="/ticks/">/ticks/</a>: a WSGI application that streams, each line
sent as soon as it is yielded</li>
</ul>
<p>Pages served so far: {visits}</p>
</body></html>"""
)


def legacy_app(environ, start_response):
    """A WSGI application written for no framework at all (PEP 3333)."""
    lines = [
        "Hello from plain WSGI!",
        "",
        f"SCRIPT_NAME = {environ['SCRIPT_NAME']!r}",
        f"PATH_INFO   = {environ['PATH_INFO']!r}",
        f"QUERY       = {environ['QUERY_STRING']!r}",
        f"server      = {environ['SERVER_SOFTWARE']}",
    ]
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return ["\n".join(lines).encode("utf-8")]


def ticking_app(environ, start_response):
    """A WSGI application that streams: kali sends each line when it is
    yielded, so the browser shows them one by one. While it ticks, kali's
    one thread is busy with it and other requests wait: a stream is for
    something short (or server-sent events); long work goes to kali.jobs."""
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])

    def lines():
        for number in range(1, 4):
            if number > 1:
                time.sleep(0.2)
            yield f"tick {number}\n".encode()

    return lines()


def make_app(server_name="kali"):
    """The Router, with the WSGI app mounted inside it, and its counter."""
    app = Router()
    visits = {"count": 0}

    @app.function("/")
    def home():
        visits["count"] += 1
        return PAGE(server=server_name, visits=visits["count"])

    @app.function("/hello/*")
    def hello(name):
        visits["count"] += 1
        return Response.plain_text(f"Hello, {name}!")

    # from_wsgi turns any WSGI application (Flask, Bottle...) into a kali
    # handler; mounted as a folder, its mount point becomes SCRIPT_NAME.
    app.delegate_folder("/legacy/", from_wsgi(legacy_app))
    app.delegate_folder("/ticks/", from_wsgi(ticking_app))
    return app, visits


def make_wsgi_application(server_name="wsgiref"):
    """The Router as a WSGI application. to_wsgi applies kali's localhost
    checks (the Host must be localhost or 127.0.0.1, cross-site POSTs get
    403); behind a proxy, name the public host: to_wsgi(app,
    allowed_hosts=["tasks.example.org"])."""
    app, _ = make_app(server_name)
    return to_wsgi(app)


def make_commands(visits):
    """Console commands: they run between two requests, never during one."""
    commands = Commands()

    @commands.command(name="visits")
    def count_visits():
        """How many pages were served."""
        return f"{visits['count']} pages served"

    return commands


def serve_with_wsgiref(port=8080):
    """The same Router under wsgiref: to_wsgi makes it a WSGI application."""
    with make_server("127.0.0.1", port, make_wsgi_application()) as server:
        print(f"Serving on http://127.0.0.1:{port}/ with wsgiref; Ctrl-C stops.")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    if "--wsgiref" in sys.argv:
        serve_with_wsgiref()
    else:
        router, counter = make_app()
        arguments = launch_arguments(
            "WSGI both ways (--wsgiref: kali under wsgiref instead)",
            parser=None,
            argv=[a for a in sys.argv[1:] if a != "--wsgiref"],
        )
        run_app(router, arguments, commands=make_commands(counter))
