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

* ``typed``    -- ``router(request)`` on routes whose wildcards are typed
                  (``int``, ``uuid.UUID``) or that take the ``request``
                  parameter: the conversion worked out at registration;
* ``url_for``  -- ``router.url_for(handler, value)`` for those routes.

Request construction (parsing the target) is reported separately for
reference; it happens once per request whatever the router does. The target
is "a few microseconds" for dispatch; the exit status is 1 above 10 us.
"""

from __future__ import annotations

import argparse
import os
import sys
import timeit
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kali.multidict import Bag  # noqa: E402
from kali.request import Request  # noqa: E402
from kali.routing import Router, SignedInt  # noqa: E402

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


def add_typed_routes(router: Router) -> list[tuple[object, object]]:
    """Typed routes on ``router``; returns ``(handler, value)`` for url_for."""

    @router.function("/typed/*")
    def typed(number: int, request: Request) -> str:
        return "typed"

    @router.servlet("/typed-item/*/*")
    class TypedItem:
        def __init__(self, request: Request, key: uuid.UUID, n: SignedInt) -> None:
            self.key = key

        def do_GET(self, request: Request) -> str:
            return "item"

    return [(typed, 42), ("/typed-item/*/*", (KEY, -3))]


KEY = uuid.UUID("12345678-1234-5678-9abc-def012345678")
TYPED_TARGETS = ["/typed/42", f"/typed-item/{KEY}/-3"]

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
    built = add_typed_routes(router)
    routes = sum(1 for _ in _walk(router))
    headers = Bag([("host", "127.0.0.1:8080")])
    requests = [Request("GET", target, "HTTP/1.1", headers) for target in TARGETS]
    paths = [request.path for request in requests]
    typed = [Request("GET", target, "HTTP/1.1", headers) for target in TYPED_TARGETS]
    for request in requests + typed:
        router(request)  # warm up; every target is routable (or the catch-all)
    calls = [
        (target, value if isinstance(value, tuple) else (value,))
        for target, value in built
    ]

    def best_us(statement: object, per_call: int) -> float:
        runs = timeit.repeat(statement, number=args.number, repeat=5)  # type: ignore[call-overload]
        return min(runs) / (args.number * per_call) * 1e6

    find_us = best_us(lambda: [router.find(path) for path in paths], len(paths))
    dispatch_us = best_us(
        lambda: [router(request) for request in requests], len(requests)
    )
    typed_us = best_us(lambda: [router(request) for request in typed], len(typed))
    url_for_us = best_us(
        lambda: [router.url_for(target, *values) for target, values in calls],
        len(calls),
    )
    build_us = best_us(
        lambda: [Request("GET", target, "HTTP/1.1", headers) for target in TARGETS],
        len(TARGETS),
    )
    print(f"{routes} mount points, {len(TARGETS)} targets, best of 5 x {args.number}:")
    print(f"  find      {find_us:6.2f} us per request")
    print(f"  dispatch  {dispatch_us:6.2f} us per request (normalize + find + shim)")
    print(f"  typed     {typed_us:6.2f} us per request (int, uuid, request)")
    print(f"  url_for   {url_for_us:6.2f} us per URL")
    print(f"  (building the Request: {build_us:6.2f} us, for reference)")
    return 0 if max(dispatch_us, typed_us) <= LIMIT_US else 1


def _walk(router: Router):  # type: ignore[no-untyped-def]
    stack = [router.root]
    while stack:
        node = stack.pop()
        if node.entry is not None:
            yield node
        stack.extend(node.kids.values())


if __name__ == "__main__":
    sys.exit(main())
