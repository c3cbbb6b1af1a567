"""WSGI both ways (PEP 3333): a kali app under any WSGI server, and any WSGI
app under kali's loop.

* :func:`to_wsgi` turns a kali handler (a Router, a guarded app, any
  ``handler(request)``) into a WSGI application, so an app that outgrows
  localhost runs unchanged under waitress, gunicorn or ``wsgiref``::

      application = to_wsgi(make_app())   # waitress-serve myapp:application

* :func:`from_wsgi` turns a WSGI application (Flask, Bottle...) into a kali
  handler, and :func:`serve_wsgi` serves one with ``serve_http``: one thread,
  the browser-safe loop and the localhost security checks, no thread per
  request. What the app yields is sent when it yields it, with the app's
  Content-Length; a stream holds the one thread until it ends, so long work
  belongs in ``kali.jobs``.

``kali.wsgi.application`` holds the first direction, ``kali.wsgi.handler``
(the environ) and ``kali.wsgi.answer`` (the app's answer as a Response) the
second. Rules: this package translates between the WSGI environ and kali's
Request and Response. It never touches sockets (the WSGI server or
``kali.server`` does), and answers through the one request pipeline
(``kali.handling.Pipeline``) instead of repeating any of its steps. This
package face sits in the launch layer (``serve_wsgi`` is ``serve_http``);
its modules sit below the launch, beside the loop.
"""

from __future__ import annotations

from typing import Any

from ..launch import serve_http
from .answer import FileWrapper
from .application import (
    Environ,
    StartResponse,
    WSGIAdapter,
    WSGIApplication,
    to_wsgi,
)
from .handler import LogStream, WSGIHandler, from_wsgi, make_environ

__all__ = [
    "Environ",
    "FileWrapper",
    "LogStream",
    "StartResponse",
    "WSGIAdapter",
    "WSGIApplication",
    "WSGIHandler",
    "from_wsgi",
    "make_environ",
    "serve_wsgi",
    "to_wsgi",
]


def serve_wsgi(app: WSGIApplication, **options: Any) -> None:
    """Serve the WSGI application ``app`` with ``serve_http(**options)``:
    ``serve_wsgi(flask_app, port=5000)``. Takes every ``serve_http`` option;
    with ``ssl_context`` the app sees ``wsgi.url_scheme == "https"``."""
    scheme = "http" if options.get("ssl_context") is None else "https"
    serve_http(from_wsgi(app, url_scheme=scheme), **options)
