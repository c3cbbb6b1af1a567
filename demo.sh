#!/usr/bin/env sh
# Run one of the examples: ./demo.sh intro  (runs examples/intro.py)
# A package example (a folder with __main__.py, such as examples/datebook/)
# runs as `python -m NAME` with examples/ on PYTHONPATH.
# With no name, list the examples. Needs only Python 3.9+; nothing to install.
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -eq 0 ]; then
    echo "usage: ./demo.sh NAME [ARGS...]   where NAME is one of:"
    for f in "$here"/examples/*.py "$here"/examples/*/__init__.py; do
        [ -f "$f" ] || continue
        case "$f" in
            */__init__.py) name=$(basename "$(dirname "$f")") ;;
            *) name=$(basename "$f" .py) ;;
        esac
        summary=$(sed -n 's/^"""\(.*\)$/\1/p' "$f" | head -n 1)
        printf '  %-18s %s\n' "$name" "$summary"
    done | sort
    exit 0
fi
name=$1
shift
python=${PYTHON:-python3}
command -v "$python" >/dev/null 2>&1 || python=python
path="$here:$here/examples${PYTHONPATH:+:$PYTHONPATH}"
if [ -f "$here/examples/$name/__main__.py" ]; then
    PYTHONPATH="$path" exec "$python" -m "$name" "$@"
elif [ -f "$here/examples/$name.py" ]; then
    PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" exec "$python" "$here/examples/$name.py" "$@"
fi
echo "no example called '$name' (run ./demo.sh to list them)" >&2
exit 2
