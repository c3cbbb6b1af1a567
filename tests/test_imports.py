"""Compatibility checklist item 1: every 0.0.8 name, and a quiet import."""

import logging
import subprocess
import sys
from pathlib import Path

import pytest

import kali
import kali.forms
import kali.implementation
import kali.version

ROOT = Path(__file__).resolve().parents[1]


def test_top_level_names():
    for name in (
        "serve_http",
        "Request",
        "Response",
        "Template",
        "Router",
        "StaticFolder",
        "TemplateFolder",
        "Servlet",
        "FileUpload",
        "Markup",
    ):
        assert hasattr(kali, name), name
        assert getattr(kali.implementation, name) is getattr(kali, name)
    for name in (
        "serve_http",
        "Request",
        "Template",
        "Response",
        "Router",
        "StaticFolder",
        "TemplateFolder",
        "Servlet",
        "FileUpload",
    ):
        assert name in kali.__all__
    assert kali.forms and kali.implementation and kali.version


def test_implementation_names():
    impl = kali.implementation
    for name in (
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
        "log",
    ):
        assert hasattr(impl, name), name
    assert impl.HTTP_DEFAULT_ENCODING == "iso8859-1"
    assert impl.HTTP_EOL == b"\r\n" and impl.LEN_HTTP_EOL == 2
    assert impl.log is logging.getLogger("kali")
    assert issubclass(impl.ProtocolError, ValueError)
    assert issubclass(impl.TemplateSyntaxError, ValueError)


def test_forms_names():
    expected = {
        "ValidationError",
        "SaveError",
        "Formlet",
        "FormElement",
        "Entry",
        "Memo",
        "Pick",
        "tag",
        "Lens",
        "StringLens",
        "ChoiceLens",
        "EnumLens",
    }
    assert expected <= set(kali.forms.__all__)
    for name in (
        "Test",
        "Nullable",
        "DateLens",
        "ListLens",
        "option",
        "BLANKABLE",
        "TYPICAL",
        "NULLABLE",
        "DATE",
        "Request",
        "Response",
        "Servlet",
        "Bag",
    ):
        assert hasattr(kali.forms, name), name


def test_version():
    assert kali.__version__ == kali.version.__version__
    assert kali.version.__version__ == ".".join(map(str, kali.version.__version_info__))
    assert kali.version.__version_info__ > (0, 0, 8)


def test_import_is_quiet():
    code = (
        "import logging, socket, threading\n"
        "opened = []\n"
        "real = socket.socket.__init__\n"
        "def spy(self, *a, **k):\n"
        "    opened.append(1); real(self, *a, **k)\n"
        "socket.socket.__init__ = spy\n"
        "before = threading.active_count()\n"
        "import kali\n"
        "log = logging.getLogger('kali')\n"
        "assert log.level == logging.NOTSET, log.level  # the app's to choose\n"
        "assert not log.handlers and not logging.getLogger().handlers\n"
        "assert threading.active_count() == before\n"
        "assert not opened\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_serve_http_lives_above_the_loop():
    import kali.launch
    import kali.server

    assert kali.serve_http is kali.launch.serve_http
    assert kali.implementation.serve_http is kali.launch.serve_http
    # The loop knows nothing of launching (tests/test_layering.py checks the
    # imports): serve_http, the browser and open_browser are kali.launch's.
    assert not hasattr(kali.server, "serve_http")
    assert not hasattr(kali.server.Server, "open_browser")
    assert callable(kali.launch.open_browser) and callable(kali.launch.launch_browser)


def test_the_options_value_is_exported():
    from kali.handling import AppOptions

    assert kali.AppOptions is AppOptions and "AppOptions" in kali.__all__
    assert kali.Timeouts is kali.server.Timeouts


@pytest.mark.parametrize(
    ("setup", "shown"),
    [
        ("", True),  # nothing configured: the server's lines are shown
        ("logging.basicConfig(level=logging.WARNING)\n", False),
        ("logging.getLogger('kali').setLevel(logging.ERROR)\n", False),
    ],
)
def test_serve_http_shows_info_lines_only_where_nothing_was_configured(setup, shown):
    code = (
        "import logging, threading, urllib.request\n"
        + setup
        + "from kali import Response, serve_http\n"
        "def fetch(server):\n"
        "    get = lambda: urllib.request.urlopen(server.url, timeout=20).read()\n"
        "    threading.Thread(target=get, daemon=True).start()\n"
        "serve_http(lambda request: Response('bye', shut_down=True), port=0,\n"
        "           start=None, on_ready=fetch)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert ("GET /" in result.stderr) is shown, result.stderr
