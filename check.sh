#!/usr/bin/env bash
# Run every check kali has: install the test tools into .venv, then
# ruff, mypy (Linux, Windows and macOS views) and the whole pytest suite.
# Browser tests use Debian's chromium: installed here when we are root and it
# is missing; without it they skip locally (and fail under CI=true).
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-python3}

if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing chromium (Debian) for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv"
    if ! "$python" -m venv .venv; then
        rm -rf .venv
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            # Debian's system Python keeps venv in a package of its own.
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            "$python" -m venv .venv
        else
            echo "cannot create a virtual environment: install python3-venv" >&2
            exit 1
        fi
    fi
fi
echo "== installing kali and its test tools into .venv"
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'

echo "== ruff"
.venv/bin/ruff check kali tests bench examples
echo "== mypy (strict on kali/; linux, win32, darwin)"
for platform in linux win32 darwin; do
    .venv/bin/mypy --platform "$platform" kali
done
echo "== pytest"
.venv/bin/python -m pytest "$@"
