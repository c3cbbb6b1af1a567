"""The app's secret: one key that every process of the app shares.

Signed session cookies (:mod:`kali.sessions`) and signed form tokens
(:class:`kali.forms.SubmitGuard`) need a key that is the same in every
process serving the app: under ``gunicorn -w 2`` a cookie signed by one
worker is read by the other, and a form shown by one is saved by the other.
A key made in one process's memory breaks both, so :func:`app_secret` takes
the key from, in this order:

1. the app's configuration: the ``secret`` argument;
2. the environment: ``KALI_SECRET`` (at least 16 characters);
3. a file in the app's data folder (``folder``): made once, by whichever
   process comes first, readable only by the user (0600), written to a
   temporary file and linked into place, so a second process never reads
   half a key and never makes a second one.

With none of these it raises :class:`NoSecretError`, unless
``per_process=True`` allows a key for this process only (a plain
single-process ``serve_http`` app), which it says in a log line::

    from kali.appsecret import app_secret
    from kali.desktop import data_folder

    secret = app_secret(data_folder("notes"))     # $KALI_SECRET, or the file
    sessions = Sessions(secret)
    guard = SubmitGuard(secret=secret)

The file holds the key as text (64 hex digits), so the same value can be
given to other machines as ``KALI_SECRET``.

This module must not keep the secret anywhere (no module-level cache: each
call reads it again), log it, or import HTTP or server modules.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import stat
import time
from collections.abc import Mapping

__all__ = [
    "ENVIRONMENT_VARIABLE",
    "MIN_SECRET_BYTES",
    "SECRET_FILE_NAME",
    "NoSecretError",
    "app_secret",
    "derive_key",
    "make_private",
    "process_secret",
    "read_secret_file",
    "secret_from_environment",
    "write_private_file",
]

log = logging.getLogger("kali")

#: The environment variable that gives every process of an app its secret.
ENVIRONMENT_VARIABLE = "KALI_SECRET"
#: The file :func:`app_secret` keeps the secret in, inside the data folder.
SECRET_FILE_NAME = "kali-secret.key"
#: A secret shorter than this (in bytes) is refused: 128 bits at least.
MIN_SECRET_BYTES = 16
#: Random bytes in a secret kali makes: 256 bits, the HMAC-SHA256 key size.
NEW_SECRET_BYTES = 32
#: How long to wait for another process that is writing the secret file:
#: it writes 64 bytes, so only the fallback for file systems without hard
#: links can ever be seen half-written, and only for a moment.
WRITER_WAIT_SECONDS = 1.0


class NoSecretError(RuntimeError):
    """No secret was configured and a per-process one is not acceptable."""


def secret_from_environment(
    environ: Mapping[str, str] | None = None,
) -> bytes | None:
    """``KALI_SECRET`` as bytes (UTF-8), or None when it is unset or empty.

    Raises ValueError when it is shorter than 16 bytes.
    """
    value = (os.environ if environ is None else environ).get(ENVIRONMENT_VARIABLE)
    if not value:
        return None
    secret = value.strip().encode("utf-8")
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(
            f"{ENVIRONMENT_VARIABLE} is too short ({len(secret)} bytes): use at "
            f"least {MIN_SECRET_BYTES}, e.g. the output of "
            "python3 -c 'import secrets; print(secrets.token_hex(32))'"
        )
    return secret


def read_secret_file(path: str | os.PathLike[str]) -> bytes:
    """The secret in the file at ``path``, made there first if it is missing.

    A new secret is 32 random bytes written as 64 hex digits to a private
    temporary file (0600 on POSIX), flushed to the disk and then linked to
    ``path``: if another process got there first, its secret is read and
    used instead, so every process ends up with the same one. A file that
    others may read is made private again (POSIX). The folder must exist
    (OSError otherwise). Raises ValueError for a file that holds less than
    16 bytes (damaged: delete it to make a new one, which signs out every
    session).
    """
    path = os.fspath(path)
    secret = _read(path)
    if secret is None:
        _create(path)
        secret = _read(path)
    deadline = time.monotonic() + WRITER_WAIT_SECONDS
    while secret is not None and len(secret) < MIN_SECRET_BYTES:
        if time.monotonic() > deadline:
            raise ValueError(
                f"the secret file {path} is damaged (under {MIN_SECRET_BYTES} "
                "bytes); delete it to make a new one (every session ends)"
            )
        time.sleep(0.02)  # another process is still writing it (no hard links)
        secret = _read(path)
    if secret is None:  # removed between the link and the read: try once more
        return read_secret_file(path)
    make_private(path)
    return secret


def process_secret(what: str = "sessions and form tokens") -> bytes:
    """A random secret for this process only, said so in an INFO log line:
    ``what`` then ends when the process stops, and other processes of the
    same app do not accept it."""
    log.info(
        "No secret configured: %s use one made for this process only; they "
        "end when it stops and do not work across worker processes (set %s, "
        "or use kali.appsecret.app_secret(data_folder))",
        what,
        ENVIRONMENT_VARIABLE,
    )
    return secrets.token_bytes(NEW_SECRET_BYTES)


def app_secret(
    folder: str | os.PathLike[str] | None = None,
    *,
    secret: bytes | str | None = None,
    file_name: str = SECRET_FILE_NAME,
    environ: Mapping[str, str] | None = None,
    per_process: bool = False,
) -> bytes:
    """The app's secret, the same in every process of the app.

    ``secret`` (bytes, or str as UTF-8) wins; then ``KALI_SECRET`` from
    ``environ`` (default ``os.environ``); then the file ``file_name`` in
    ``folder`` (see :func:`read_secret_file`). Without any of them: a
    per-process secret when ``per_process`` is true (logged), else
    :class:`NoSecretError`. Raises ValueError for a secret shorter than 16
    bytes, and OSError when the file cannot be read or made.
    """
    if secret is not None:
        if isinstance(secret, str):
            secret = secret.encode("utf-8")
        if not isinstance(secret, (bytes, bytearray)):
            raise TypeError("secret must be bytes, str or None")
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the secret must have at least {MIN_SECRET_BYTES} bytes")
        return bytes(secret)
    from_environment = secret_from_environment(environ)
    if from_environment is not None:
        return from_environment
    if folder is not None:
        if not file_name or os.path.basename(file_name) != file_name:
            raise ValueError(f"file_name must be a plain file name: {file_name!r}")
        return read_secret_file(os.path.join(os.fspath(folder), file_name))
    if per_process:
        return process_secret()
    raise NoSecretError(
        "no secret for sessions and form tokens: pass one, set "
        f"{ENVIRONMENT_VARIABLE}, or give app_secret() the app's data folder "
        "(every worker process must use the same secret)"
    )


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A key for one ``purpose`` (``'kali.forms.guard'``...) made from the
    app's secret, so a value signed for one use is never valid for another."""
    return hmac.new(secret, purpose.encode("utf-8"), hashlib.sha256).digest()


# -- the file -------------------------------------------------------------------


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as file:
            return file.read().strip()
    except FileNotFoundError:
        return None


def _create(path: str) -> None:
    """Write a new secret to ``path`` unless a file is there already."""
    data = secrets.token_hex(NEW_SECRET_BYTES).encode("ascii")
    write_private_file(path, data, replace=False)


def write_private_file(
    path: str | os.PathLike[str], data: bytes, *, replace: bool = True
) -> None:
    """Write ``data`` to ``path`` readable only by the user (0600 on POSIX):
    to a temporary file first, flushed to the disk, then put in place, so
    nobody ever reads half of it. ``replace=False`` leaves a file that is
    there already (another process's) as it is. OSError propagates; no
    temporary file is left behind."""
    path = os.fspath(path)
    temporary = f"{path}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    descriptor = os.open(temporary, flags, 0o600)
    try:
        with open(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            _place(temporary, path, data)
    finally:
        try:
            os.remove(temporary)
        except OSError:
            pass
    _sync_folder(os.path.dirname(os.path.abspath(path)))


def _place(temporary: str, path: str, data: bytes) -> None:
    """Put the finished ``temporary`` at ``path``, never over another file."""
    if os.name == "nt":
        try:
            os.rename(temporary, path)  # Windows: refuses an existing path
        except FileExistsError:
            pass
        return
    try:
        os.link(temporary, path)  # atomic, and refuses an existing path
    except FileExistsError:
        pass
    except OSError:  # a file system without hard links: create in place
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        with open(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())


def make_private(path: str | os.PathLike[str]) -> None:
    """Take away others' access to the file at ``path`` (POSIX), saying so."""
    if os.name != "posix":
        return  # the user's own folders are private on Windows already
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        log.warning("The secret file %s was readable by others; fixed", path)
        os.chmod(path, mode & 0o700)


def _sync_folder(folder: str) -> None:
    """Make the new name durable (POSIX; Windows cannot open a folder)."""
    if os.name != "posix":
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
