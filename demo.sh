#!/usr/bin/env sh
# Run one of the examples: ./demo.sh intro  (runs examples/intro.py)
# With no name, list the examples. Needs only Python 3.9+; nothing to install.
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -eq 0 ]; then
    echo "usage: ./demo.sh NAME [ARGS...]   where NAME is one of:"
    for f in "$here"/examples/*.py; do
        name=$(basename "$f" .py)
        summary=$(sed -n 's/^"""\(.*\)$/\1/p' "$f" | head -n 1)
        printf '  %-18s %s\n' "$name" "$summary"
    done
    exit 0
fi
name=$1
shift
if [ ! -f "$here/examples/$name.py" ]; then
    echo "no example called '$name' (run ./demo.sh to list them)" >&2
    exit 2
fi
python=${PYTHON:-python3}
command -v "$python" >/dev/null 2>&1 || python=python
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" exec "$python" "$here/examples/$name.py" "$@"
