"""A Django project under ``kali.wsgi.serve_wsgi``: the admin's login (with
Django's CSRF check), adding a record and changing it, through real HTTP
with cookies on 127.0.0.1.

The project is made by the test in ``tmp_path`` (settings, URLs, an SQLite
database there), migrated and given a superuser with Django's own commands,
and served by a subprocess, so Django's process-wide settings never touch
the test process.
"""

from __future__ import annotations

import html
import os
import re
import sqlite3
import subprocess
from pathlib import Path

from wsgi_support import (
    Browser,
    python,
    require,
    server_process,
    subprocess_environment,
)

SETTINGS = """
from pathlib import Path

SECRET_KEY = "kali-test-only-" + "k" * 40
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "kalitest_urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": Path(__file__).resolve().parent / "admin.sqlite3",
    }
}
STATIC_URL = "static/"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
"""

URLS = """
from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
"""

SERVE = """
from django.core.wsgi import get_wsgi_application

from kali.wsgi import serve_wsgi

serve_wsgi(
    get_wsgi_application(),
    port=0,
    start=None,
    on_ready=lambda server: print(f"READY {server.port}", flush=True),
)
"""

PASSWORD = "kali-admin-Pässword-1"


def csrf_token(page: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert found is not None, page
    return found.group(1)


def make_project(folder: Path) -> dict[str, str]:
    """Write the project, migrate it and add the superuser; returns the
    environment to run it with."""
    (folder / "kalitest_settings.py").write_text(SETTINGS, encoding="utf-8")
    (folder / "kalitest_urls.py").write_text(URLS, encoding="utf-8")
    (folder / "serve_django.py").write_text(SERVE, encoding="utf-8")
    environment = subprocess_environment(
        DJANGO_SETTINGS_MODULE="kalitest_settings",
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
    )
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(folder), environment["PYTHONPATH"]]
    )
    for command in (
        ["migrate", "--noinput"],
        ["createsuperuser", "--noinput", "--username=admin", "--email=a@example.org"],
    ):
        subprocess.run(
            python("-m", "django", *command),
            cwd=folder,
            env=environment,
            check=True,
            capture_output=True,
            timeout=120,
        )
    return environment


def test_django_admin_login_add_and_change_under_serve_wsgi(tmp_path: Path) -> None:
    require("django")
    environment = make_project(tmp_path)
    with server_process(
        python("serve_django.py"),
        ready=r"READY (?P<port>[0-9]+)",
        cwd=tmp_path,
        environment=environment,
    ) as server:
        assert server.port is not None
        browser = Browser(server.port)
        status, _, page, _ = browser.request("/admin/login/?next=/admin/")
        assert status == 200, page
        status, url, page, _ = browser.request(
            "/admin/login/?next=/admin/",
            data={
                "csrfmiddlewaretoken": csrf_token(page),
                "username": "admin",
                "password": PASSWORD,
                "next": "/admin/",
            },
        )
        assert status == 200 and url.endswith("/admin/"), page
        assert "Site administration" in page
        status, _, page, _ = browser.request("/admin/auth/group/add/")
        assert status == 200, page
        status, url, page, _ = browser.request(
            "/admin/auth/group/add/",
            data={
                "csrfmiddlewaretoken": csrf_token(page),
                "name": "Rédacteurs ✓",
                "_save": "Save",
            },
        )
        assert status == 200 and url.endswith("/admin/auth/group/"), page
        assert "was added successfully" in page
        found = re.search(r'href="(/admin/auth/group/[0-9]+/change/)"', page)
        assert found is not None, page
        change = found.group(1)
        status, _, page, _ = browser.request(change)
        assert status == 200 and "Rédacteurs ✓" in html.unescape(page)
        status, url, page, _ = browser.request(
            change,
            data={
                "csrfmiddlewaretoken": csrf_token(page),
                "name": "Éditeurs",
                "_save": "Save",
            },
        )
        assert status == 200 and url.endswith("/admin/auth/group/"), page
        assert "was changed successfully" in page
        # Without the CSRF token Django refuses the POST (kali passed it on).
        status, _, page, _ = browser.request(
            change, data={"name": "Nobody", "_save": "Save"}
        )
        assert status == 403, page
    database = sqlite3.connect(tmp_path / "admin.sqlite3")
    try:
        names = [row[0] for row in database.execute("SELECT name FROM auth_group")]
    finally:
        database.close()
    assert names == ["Éditeurs"]
