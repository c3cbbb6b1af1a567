"""Routing cost: microseconds per request with 100 registered routes.

    python3 bench/bench_routing.py [--number 20000]

Builds a Router with 100 mount points in every style (literal functions,
wildcard servlets, services, folders, a deep wildcard chain, the root
catch-all) and measures, best of 5 runs:

* ``find``     -- the prefix-tree search alone, ``router.find(path)``;
* ``dispatch`` -- ``router(request)`` on a ready Request: ``normalize()``,
                  the search, setting ``mount_depth``/``args``, and the
                  registration shim (folder redirect check, servlet method
                  lookup, function argument check) down to a trivial handler.

Request construction (parsing the target) is reported separately for
reference; it happens once per request whatever the router does. The target
is "a few microseconds" for dispatch; the exit status is 1 above 10 us.
"""

from __future__ import annotations

import argparse
import os
import sys
import timeit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kali.multidict import Bag  # noqa: E402
from kali.request import Request  # noqa: E402
from kali.routing import Router  # noqa: E402

LIMIT_US = 10.0


def make_router() -> Router:
    router = Router()
    router.delegate("", lambda request: "root")
    for i in range(40):
        router.function(f"/page{i}")(lambda x="": "page")
    for i in range(30):

        @router.servlet(f"/item{i}/*")
        class Item:
            def __init__(self, key: str) -> None:
                self.key = key

            def do_GET(self, request: Request) -> str:
                return self.key

    for i in range(19):

        @router.service(f"/svc{i}/*/")
        class Service:
            def __init__(self, key: str) -> None:
                self.key = key

            def do_GET_show(self, request: Request) -> str:
                return self.key

    for i in range(9):
        router.delegate_folder(f"/files{i}/", lambda request: "file")
    router.delegate("/a/*/b/*/c", lambda request: "deep")
    return router


TARGETS = [
    "/page7",
    "/page39?x=1",
    "/item12/abc",
    "/svc5/42/show",
    "/files3/some/file.txt",
    "/a/1/b/2/c",
    "/nothing/matches/here",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=20000)
    args = parser.parse_args()
    router = make_router()
    routes = sum(1 for _ in _walk(router))
    headers = Bag([("host", "127.0.0.1:8080")])
    requests = [Request("GET", target, "HTTP/1.1", headers) for target in TARGETS]
    paths = [request.path for request in requests]
    for request in requests:
        router(request)  # warm up; every target is routable (or the catch-all)

    def best_us(statement: object, per_call: int) -> float:
        runs = timeit.repeat(statement, number=args.number, repeat=5)  # type: ignore[call-overload]
        return min(runs) / (args.number * per_call) * 1e6

    find_us = best_us(lambda: [router.find(path) for path in paths], len(paths))
    dispatch_us = best_us(
        lambda: [router(request) for request in requests], len(requests)
    )
    build_us = best_us(
        lambda: [Request("GET", target, "HTTP/1.1", headers) for target in TARGETS],
        len(TARGETS),
    )
    print(f"{routes} mount points, {len(TARGETS)} targets, best of 5 x {args.number}:")
    print(f"  find      {find_us:6.2f} us per request")
    print(f"  dispatch  {dispatch_us:6.2f} us per request (normalize + find + shim)")
    print(f"  (building the Request: {build_us:6.2f} us, for reference)")
    return 0 if dispatch_us <= LIMIT_US else 1


def _walk(router: Router):  # type: ignore[no-untyped-def]
    stack = [router.root]
    while stack:
        node = stack.pop()
        if node.entry is not None:
            yield node
        stack.extend(node.kids.values())


if __name__ == "__main__":
    sys.exit(main())
