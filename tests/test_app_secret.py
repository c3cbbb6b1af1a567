"""kali.appsecret: one secret for every process of an app."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kali.appsecret import (
    SECRET_FILE_NAME,
    NoSecretError,
    app_secret,
    derive_key,
    read_secret_file,
    secret_from_environment,
)
from kali.forms import SubmitGuard, TokenState
from kali.forms.guard import SECRET_VARIABLE
from kali.sessions import Sessions

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def no_secret_in_the_environment(monkeypatch):
    monkeypatch.delenv("KALI_SECRET", raising=False)


def environment_without_secret():
    environ = {key: value for key, value in os.environ.items() if key != "KALI_SECRET"}
    environ["PYTHONPATH"] = str(ROOT)
    return environ


# -- where it comes from -------------------------------------------------------------


def test_the_argument_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("KALI_SECRET", "from the environment, long enough")
    assert app_secret(tmp_path, secret=b"s" * 16) == b"s" * 16
    assert app_secret(secret="sixteen chars ok") == b"sixteen chars ok"
    assert not list(tmp_path.iterdir())  # no file made
    with pytest.raises(ValueError, match="16 bytes"):
        app_secret(secret="short")
    with pytest.raises(TypeError):
        app_secret(secret=42)


def test_then_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KALI_SECRET", "  from the environment, long enough\n")
    assert app_secret(tmp_path) == b"from the environment, long enough"
    assert not list(tmp_path.iterdir())
    assert secret_from_environment({"KALI_SECRET": ""}) is None
    assert secret_from_environment({}) is None
    with pytest.raises(ValueError, match="KALI_SECRET is too short"):
        secret_from_environment({"KALI_SECRET": "short"})
    assert SECRET_VARIABLE == "KALI_SECRET"  # the guard reads the same one


def test_then_a_file_in_the_data_folder(tmp_path):
    secret = app_secret(tmp_path)
    path = tmp_path / SECRET_FILE_NAME
    assert path.read_bytes() == secret and len(secret) == 64
    int(secret, 16)  # hex text: can be copied into KALI_SECRET elsewhere
    assert app_secret(tmp_path) == secret == app_secret(str(tmp_path))
    assert [p.name for p in tmp_path.iterdir()] == [SECRET_FILE_NAME]  # no temp file
    assert app_secret(tmp_path, file_name="other.key") != secret
    with pytest.raises(ValueError, match="plain file name"):
        app_secret(tmp_path, file_name="../escape.key")


def test_without_any_it_fails_clearly_or_is_per_process_and_says_so(caplog):
    with pytest.raises(NoSecretError, match="KALI_SECRET"):
        app_secret()
    with caplog.at_level("INFO", logger="kali"):
        one = app_secret(per_process=True)
    assert "this process only" in caplog.text
    assert len(one) == 32 and app_secret(per_process=True) != one


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_the_file_is_private(tmp_path):
    old_umask = os.umask(0o022)
    try:
        app_secret(tmp_path)
        path = tmp_path / SECRET_FILE_NAME
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        path.chmod(0o644)
        app_secret(tmp_path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(old_umask)


def test_a_damaged_file_is_an_error_not_a_new_secret(tmp_path, monkeypatch):
    """Replacing it would sign out every other process's sessions."""
    monkeypatch.setattr("kali.appsecret.WRITER_WAIT_SECONDS", 0.05)
    path = tmp_path / "damaged.key"
    path.write_bytes(b"short")
    with pytest.raises(ValueError, match="delete it"):
        read_secret_file(path)
    assert path.read_bytes() == b"short"


def test_a_missing_folder_is_an_error(tmp_path):
    with pytest.raises(OSError):
        app_secret(tmp_path / "missing")
    assert not (tmp_path / "missing").exists()


def test_keys_for_different_purposes_differ():
    secret = b"k" * 32
    assert derive_key(secret, "a") != derive_key(secret, "b")
    assert derive_key(secret, "a") == derive_key(secret, "a")
    assert len(derive_key(secret, "a")) == 32


# -- several processes ----------------------------------------------------------------

#: A worker process: its app's secret (from the folder), a signed session
#: cookie and a form token, as JSON on stdout.
WORKER = """
import json, sys
from kali.appsecret import app_secret
from kali.forms import SubmitGuard
from kali.sessions import Sessions
secret = app_secret(sys.argv[1])
print(json.dumps({
    "secret": secret.decode(),
    "cookie": Sessions(secret).encode({"user": "ann"}, "kali-session-8080"),
    "token": SubmitGuard(secret=secret).issue(),
}))
"""


def test_workers_started_together_make_one_secret_and_accept_each_other(tmp_path):
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(tmp_path)],
            stdout=subprocess.PIPE,
            env=environment_without_secret(),
        )
        for _ in range(4)
    ]
    answers = []
    for worker in workers:
        out, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0
        answers.append(json.loads(out))
    assert len({answer["secret"] for answer in answers}) == 1  # made once
    assert (tmp_path / SECRET_FILE_NAME).read_text() == answers[0]["secret"]
    # This process, reading the same folder, accepts what each worker signed.
    secret = app_secret(tmp_path)
    sessions, guard = Sessions(secret), SubmitGuard(secret=secret)
    for answer in answers:
        cookie = sessions.decode(answer["cookie"], "kali-session-8080")
        assert cookie == {"user": "ann"}
        assert guard.state(answer["token"]) is TokenState.PENDING
    # An app with another secret does not.
    stranger = Sessions(b"x" * 32)
    assert stranger.decode(answers[0]["cookie"], "kali-session-8080") is None
