"""kali: serve a local web application to the user's browser, single-threaded.

Import what you need from here; ``kali.implementation`` keeps the 0.0.8 names
for old apps. Importing kali does nothing else: no sockets, threads,
logging levels or handlers (``serve_http`` shows its INFO lines only when the
app configured no logging at all; see kali.launch).
"""

from . import forms, implementation, version
from .timeouts import Timeouts
from .errors import HTTPError, ProtocolError
from .formdata import FileUpload
from .handling import AppOptions
from .iolist import Fragment, Markup, escape, flatten
from .launch import launch_arguments, run_app, serve_http
from .multidict import Bag
from .protocol import Limits
from .request import Request
from .response import Response
from .routing import Router, Servlet
from .server import Server
from .static import StaticFolder
from .templates import Template, TemplateFolder
from .version import __version__

__all__ = [
    "launch_arguments",
    "run_app",
    "AppOptions",
    "Bag",
    "FileUpload",
    "Fragment",
    "HTTPError",
    "Limits",
    "Markup",
    "ProtocolError",
    "Request",
    "Response",
    "Router",
    "Server",
    "Servlet",
    "StaticFolder",
    "Template",
    "TemplateFolder",
    "Timeouts",
    "__version__",
    "escape",
    "flatten",
    "forms",
    "implementation",
    "serve_http",
    "version",
]
