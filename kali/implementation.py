"""The kali 0.0.8 names, for apps written against ``kali.implementation``.

Nothing is defined here; every name is re-exported from the module that owns
it now.
"""

import logging

from .connection import ClientReader
from .errors import ProtocolError
from .formdata import (
    FileUpload,
    analyze_disposition,
    analyze_multipart_form_data,
    analyze_single_part,
)
from .iolist import Markup
from .launch import serve_http
from .multidict import Bag
from .request import Request
from .response import Response
from .routing import RouteNode, Router, Servlet
from .static import StaticFolder
from .templates import (
    AbstractTemplate,
    SubAssembly,
    Template,
    TemplateFolder,
    TemplateLoop,
    TemplateSyntaxError,
)

HTTP_DEFAULT_ENCODING = "iso8859-1"
HTTP_EOL = b"\r\n"
LEN_HTTP_EOL = len(HTTP_EOL)
log = logging.getLogger("kali")

__all__ = [
    "serve_http",
    "Request",
    "Template",
    "Response",
    "Router",
    "StaticFolder",
    "TemplateFolder",
    "Servlet",
    "FileUpload",
    "Markup",
    "Bag",
    "ProtocolError",
    "AbstractTemplate",
    "SubAssembly",
    "TemplateLoop",
    "TemplateSyntaxError",
    "RouteNode",
    "ClientReader",
    "analyze_multipart_form_data",
    "analyze_single_part",
    "analyze_disposition",
    "HTTP_DEFAULT_ENCODING",
    "HTTP_EOL",
    "LEN_HTTP_EOL",
    "log",
]
