"""HTTPS: ``ssl_context=`` wraps accepted sockets, and the first-packet and
head deadlines also bound the TLS handshake.

The certificate is a throwaway self-signed one made here, with the
``openssl`` command (or the ``cryptography`` package when that is what this
machine has). Without either the tests skip, except under CI=true, where
that is a failure.
"""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from kali.launch import serve_http
from kali.response import Response
from kali.server import Timeouts
from kali.wsgi import serve_wsgi

ROOT = Path(__file__).resolve().parents[1]

OPENSSL_CONFIG = """\
[req]
distinguished_name = name
x509_extensions = extensions
prompt = no
[name]
CN = localhost
[extensions]
subjectAltName = DNS:localhost, IP:127.0.0.1
basicConstraints = critical, CA:true
"""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def make_with_openssl(folder: Path) -> tuple[Path, Path] | None:
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    config = folder / "openssl.cnf"
    config.write_text(OPENSSL_CONFIG, encoding="ascii")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
        + ["-keyout", str(key), "-out", str(cert), "-config", str(config)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def make_with_cryptography(folder: Path) -> tuple[Path, Path] | None:
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        return None
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    names = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """``(cert.pem, key.pem)``: self-signed, for localhost and 127.0.0.1."""
    folder = tmp_path_factory.mktemp("tls")
    made = make_with_openssl(folder) or make_with_cryptography(folder)
    if made is None:
        message = "no way to make a certificate (no openssl, no cryptography)"
        if in_ci():
            pytest.fail(f"{message}; CI must run the HTTPS tests")
        pytest.skip(message)
    return made


@pytest.fixture
def server_context(certificate):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def client_context(certificate):
    return ssl.create_default_context(cafile=str(certificate[0]))


def app(request):
    if request.command == "POST":
        return Response.plain_text(["posted ", request.POST.get("x", "")])
    return Response.plain_text(["secure ", request.uri])


def fetch(port, context, method="GET", path="/", body=None, headers=None):
    connection = http.client.HTTPSConnection(
        "127.0.0.1", port, timeout=10, context=context
    )
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_get_and_post_over_https(kali_server, server_context, client_context):
    server = kali_server(app, ssl_context=server_context)
    assert server.url == f"https://127.0.0.1:{server.port}/"
    assert fetch(server.port, client_context, path="/a?b=1") == (200, b"secure /a?b=1")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    same = {**form, "Origin": f"https://127.0.0.1:{server.port}"}
    assert fetch(server.port, client_context, "POST", "/", b"x=1", same) == (
        200,
        b"posted 1",
    )
    # The origin check knows the scheme: http:// is another origin.
    plain = {**form, "Origin": f"http://127.0.0.1:{server.port}"}
    assert fetch(server.port, client_context, "POST", "/", b"x=1", plain)[0] == 403


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return data
            data += chunk
    except ConnectionResetError:
        return data


def test_plain_http_and_failed_handshakes_do_not_hurt(
    kali_server, server_context, client_context, caplog
):
    server = kali_server(app, ssl_context=server_context)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        assert b"secure" not in read_until_closed(sock)
    # A client that does not trust the certificate gives up mid-handshake.
    with pytest.raises(ssl.SSLError):
        fetch(server.port, ssl.create_default_context())
    assert fetch(server.port, client_context)[0] == 200


def test_stalled_handshake_is_cut_off_by_the_first_packet_deadline(
    kali_server, server_context, client_context
):
    server = kali_server(
        app,
        ssl_context=server_context,
        timeout=0.3,
        timeouts=Timeouts(head_total=0.3),
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as stalled:
        stalled.sendall(b"\x16\x03\x01")  # the start of a ClientHello, then silence
        time.sleep(0.05)  # let the server accept it first
        started = time.monotonic()
        assert fetch(server.port, client_context)[0] == 200
        waited = time.monotonic() - started
        read_until_closed(stalled)  # the server hung up on it
        closed_after = time.monotonic() - started
    assert waited < 3.0, waited
    assert closed_after < 3.0, closed_after


def test_idle_connection_does_not_delay_an_https_client(
    kali_server, server_context, client_context
):
    server = kali_server(app, ssl_context=server_context, timeout=0.3)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10):
        started = time.monotonic()
        assert fetch(server.port, client_context)[0] == 200
        assert time.monotonic() - started < 3.0


def start_in_thread(target, **options):
    ready = threading.Event()
    servers = []

    def on_ready(server):
        servers.append(server)
        ready.set()

    thread = threading.Thread(
        target=target,
        kwargs=dict(port=0, start=None, on_ready=on_ready, **options),
        daemon=True,
    )
    thread.start()
    assert ready.wait(10)
    return servers[0], thread


def test_serve_http_with_ssl_context(server_context, client_context):
    server, thread = start_in_thread(
        lambda **options: serve_http(app, **options), ssl_context=server_context
    )
    try:
        assert fetch(server.port, client_context, path="/x") == (200, b"secure /x")
    finally:
        server.stop()
        thread.join(10)
    assert not thread.is_alive() and server.listener is None


def test_serve_wsgi_over_https_reports_the_scheme(server_context, client_context):
    def wsgi_app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["wsgi.url_scheme"].encode()]

    server, thread = start_in_thread(
        lambda **options: serve_wsgi(wsgi_app, **options), ssl_context=server_context
    )
    try:
        assert fetch(server.port, client_context) == (200, b"https")
    finally:
        server.stop()
        thread.join(10)
    assert not thread.is_alive()


def test_kali_uses_no_removed_ssl_api():
    for path in (ROOT / "kali").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "ssl.wrap_socket" not in text, path
        assert "PROTOCOL_SSLv" not in text and "PROTOCOL_TLSv1" not in text, path


@pytest.mark.parametrize("maker", [make_with_openssl, make_with_cryptography])
def test_each_way_of_making_a_certificate_works(maker, tmp_path):
    made = maker(tmp_path)
    if made is None:
        if os.environ.get("CI") == "true":  # both are installed for CI
            pytest.fail(f"{maker.__name__}: not available in CI")
        pytest.skip(f"{maker.__name__}: not available here")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*made)
