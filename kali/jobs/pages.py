"""What a job looks like in the browser: its page, its JSON status, the
script that keeps the page up to date, and the list of recent jobs.

The page is plain HTML that is right when it is served: a ``<progress>``
bar, the count, the state, the job's message, a cancel button (a POST form)
and, once done, a link to the result. The script (:data:`SCRIPT`, a few
lines served by kali itself, no CDN) asks the job's status route every
``poll_milliseconds`` and rewrites those parts in place, so the page updates
without a reload; without JavaScript, a ``<meta http-equiv=refresh>`` inside
``<noscript>`` reloads the page instead, until the job has finished.

Everything is drawn from :meth:`kali.jobs.state.Job.status` (one snapshot),
so the page and the JSON always agree; values are escaped by the template
engine and set with ``textContent`` by the script. A failed job shows only
its state and a short text, never a traceback. Rules: this module renders and
routes; it does not start or run jobs (``kali.jobs.Jobs`` does, and gives
itself to :func:`answer` as a :class:`Board`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, Protocol, Union

from ..errors import HTTPError
from ..iolist import Body, Markup
from ..request import Request
from ..response import Response
from ..templates import Template
from .state import Job

__all__ = [
    "SCRIPT",
    "Board",
    "answer",
    "SCRIPT_NAME",
    "JobLinks",
    "Layout",
    "in_layout",
    "render_job",
    "render_list",
    "script_response",
    "standalone_page",
    "status_response",
]

#: ``layout(request, title, content)`` puts a job page's content into the
#: app's own page (its header, style and navigation).
Layout = Callable[[Request, str, Markup], Union[Response, Body]]

#: Seconds between reloads of a job page without JavaScript.
NOSCRIPT_REFRESH_SECONDS = 2

SCRIPT = """\
// kali.jobs: keeps a job page up to date without reloading it. Asks the
// job's status route (JSON) every few hundred milliseconds and rewrites the
// page's parts in place; without JavaScript a <noscript> refresh does it.
(function () {
  "use strict";
  var box = document.querySelector("[data-kali-job]");
  if (!box || !window.fetch) return;
  var every = Number(box.getAttribute("data-every")) || 500;
  function part(name) { return box.querySelector("[data-job-" + name + "]"); }
  function setText(name, text) {
    var element = part(name);
    if (element) element.textContent = text || "";
  }
  function show(status) {
    var bar = part("bar");
    if (bar && status.percent === null) {
      bar.removeAttribute("value");
      bar.textContent = "";
    } else if (bar) {
      bar.max = 100;
      bar.value = status.percent;
      bar.textContent = status.percent + " %";
    }
    setText("count", status.count_text);
    setText("state", status.state_text);
    setText("message", status.message);
    setText("error", status.error);
    var error = part("error");
    if (error) error.hidden = !status.error;
    var cancel = part("cancel");
    if (cancel) cancel.hidden = status.finished || status.cancelling;
    var link = part("result");
    if (link && status.result_url) {
      link.href = status.result_url;
      link.parentNode.hidden = false;
    }
    box.setAttribute("data-state", status.state);
    var updates = Number(box.getAttribute("data-updates") || 0) + 1;
    box.setAttribute("data-updates", String(updates));
  }
  function poll() {
    fetch(box.getAttribute("data-kali-job"),
          {cache: "no-store", credentials: "same-origin"})
      .then(function (response) {
        if (response.status === 404) return null;  // forgotten: stop asking
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (status) {
        if (status === null) return;
        show(status);
        if (!status.finished) setTimeout(poll, every);
      })
      .catch(function () { setTimeout(poll, every * 4); });
  }
  var finished = ["done", "failed", "cancelled"];
  if (finished.indexOf(box.getAttribute("data-state")) < 0) setTimeout(poll, every);
})();
"""
_SCRIPT_BYTES = SCRIPT.encode("utf-8")
#: The script's name under the jobs' prefix; its URL carries a hash of it,
#: so browsers may cache it for good.
SCRIPT_NAME = "job.js"
SCRIPT_VERSION = hashlib.sha256(_SCRIPT_BYTES).hexdigest()[:12]

_STYLE = Markup(
    "body{font-family:system-ui,sans-serif;max-width:40em;margin:2em auto;"
    "padding:0 1em;line-height:1.4}"
    ".kali-job progress{width:100%;height:1.5em}"
    ".kali-job .error{color:#a00}"
    "table{border-collapse:collapse}td,th{padding:.2em .6em;text-align:left}"
)

_PAGE = Template(
    "<!DOCTYPE html>\n"
    '<html lang="en"><head><meta charset="utf-8">\n'
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    "<title>{title}</title>\n"
    "{.head}"
    "<style>{.style}</style>\n"
    "</head><body>\n{.content}\n</body></html>\n"
)

_REFRESH = Template(
    '<noscript><meta http-equiv="refresh" content="{seconds}"></noscript>\n'
)

_JOB = Template(
    '<section class="kali-job" data-kali-job="{status_url}" data-every="{every}"'
    ' data-state="{state}">\n'
    "<h1>{title}</h1>\n"
    "<p><progress data-job-bar{.bar}</progress>"
    " <span data-job-count>{count_text}</span></p>\n"
    '<p data-job-state role="status">{state_text}</p>\n'
    "<p data-job-message>{message}</p>\n"
    '<p data-job-error class="error"{!error} hidden{/error}>{error}</p>\n'
    "<p{!result_url} hidden{/result_url}>"
    '<a data-job-result href="{result_url}">See the result</a></p>\n'
    '<form data-job-cancel method="post" action="{cancel_url}"{?hide_cancel}'
    " hidden{/hide_cancel}><button>Cancel</button></form>\n"
    '<p><a href="{list_url}">All jobs</a></p>\n'
    "</section>\n"
    '<script src="{script_url}" defer></script>\n'
)

_LIST = Template(
    '<section class="kali-jobs">\n<h1>Jobs</h1>\n'
    "{@jobs}"
    "{?first}<table><tr><th>Job</th><th>State</th><th>Progress</th>"
    "<th>Message</th></tr>\n{/first}"
    '<tr data-job="{id}"><td><a href="{url}">{title}</a></td><td>{state_text}</td>'
    "<td>{count_text}</td><td>{message}</td></tr>\n"
    "{?last}</table>\n{/last}"
    "{^jobs}<p>No jobs lately.</p>\n{/jobs}"
    "</section>\n"
)


class Board(Protocol):
    """What the pages need of :class:`kali.jobs.Jobs` (a Protocol: the
    scheduler imports this module, not the other way round)."""

    layout: Layout | None
    poll_milliseconds: int

    def get(self, job_id: str) -> Job | None: ...
    def recent(self) -> list[Job]: ...
    def cancel(self, job: Job | str) -> bool: ...


class JobLinks(NamedTuple):
    """The URLs a job page links to."""

    status_url: str
    cancel_url: str
    list_url: str
    script_url: str


def _bar_attributes(status: dict[str, Any]) -> Markup:
    """The ``<progress>`` attributes and text: a value out of 100, or none
    (an indeterminate bar) while the total is unknown."""
    percent = status["percent"]
    if percent is None:
        return Markup(">")
    return Markup(f' max="100" value="{int(percent)}">{int(percent)} %')


def render_job(status: dict[str, Any], links: JobLinks, *, every_ms: int) -> Markup:
    """A job page's content (without the surrounding page)."""
    content = _JOB(
        status_url=links.status_url,
        cancel_url=links.cancel_url,
        list_url=links.list_url,
        script_url=links.script_url,
        every=every_ms,
        bar=_bar_attributes(status),
        hide_cancel=status["finished"] or status["cancelling"],
        **{
            name: status[name]
            for name in (
                "state",
                "title",
                "count_text",
                "state_text",
                "message",
                "error",
                "result_url",
            )
        },
    )
    return Markup(str(content))


def render_list(jobs: Iterable[tuple[dict[str, Any], str]]) -> Markup:
    """The list of jobs: ``(status, page URL)`` pairs, newest first."""
    rows = [dict(status, url=url) for status, url in jobs]
    for index, row in enumerate(rows):
        row["first"] = index == 0
        row["last"] = index == len(rows) - 1
    return Markup(str(_LIST(jobs=rows)))


def standalone_page(title: str, content: Markup, *, refresh: bool) -> Response:
    """kali's own page around ``content`` (when the app gave no layout);
    ``refresh`` adds the ``<noscript>`` reload to its head."""
    head = _REFRESH(seconds=NOSCRIPT_REFRESH_SECONDS) if refresh else ""
    return Response(_PAGE(title=title, head=head, style=_STYLE, content=content))


def in_layout(
    layout: Layout | None,
    request: Request,
    title: str,
    content: Markup,
    *,
    refresh: bool,
) -> Response:
    """``content`` as a whole page, never cached: in the app's ``layout``
    (the ``<noscript>`` reload then goes first in the content) or kali's."""
    if layout is None:
        response = standalone_page(title, content, refresh=refresh)
    else:
        if refresh:
            noscript = str(_REFRESH(seconds=NOSCRIPT_REFRESH_SECONDS))
            content = Markup(noscript + content)
        result = layout(request, title, content)
        response = result if isinstance(result, Response) else Response(result)
    return response.set_header("cache-control", "no-store")


def status_response(status: dict[str, Any]) -> Response:
    """The status route's answer: the job as JSON, never cached."""
    return Response.json(status, headers={"cache-control": "no-store"})


def script_response() -> Response:
    """The page script, cached for good (its URL changes with it)."""
    return Response(
        _SCRIPT_BYTES,
        headers={
            "content-type": "text/javascript; charset=utf-8",
            "cache-control": "max-age=31536000, immutable",
        },
    )


def answer(board: Board, request: Request) -> Response:
    """Answer a request below the jobs' mount point: ``ID`` (the page),
    ``ID/status`` (JSON), ``ID/cancel`` (POST, then 303 to the page), the
    list (the mount point itself) and the script. 404 for an unknown or
    forgotten job, 405 for another method."""
    suffix = request.path_suffix()
    if suffix in ([], [""]):
        _only(request, "GET", "HEAD")
        listed = [(job.status(), request.app_url([job.id])) for job in board.recent()]
        content = render_list(listed)
        return in_layout(board.layout, request, "Jobs", content, refresh=False)
    if suffix == [SCRIPT_NAME]:
        _only(request, "GET", "HEAD")
        return script_response()
    job = board.get(suffix[0])
    if job is None:
        raise HTTPError(404, "No such job: it finished a while ago, or never was.")
    rest = suffix[1:]
    if rest == []:
        _only(request, "GET", "HEAD")
        status = job.status()
        links = JobLinks(
            status_url=request.app_url([job.id, "status"]),
            cancel_url=request.app_url([job.id, "cancel"]),
            list_url=request.app_url([""]),
            script_url=request.app_url([SCRIPT_NAME]) + "?v=" + SCRIPT_VERSION,
        )
        content = render_job(status, links, every_ms=board.poll_milliseconds)
        return in_layout(
            board.layout, request, job.title, content, refresh=not status["finished"]
        )
    if rest == ["status"]:
        _only(request, "GET", "HEAD")
        return status_response(job.status())
    if rest == ["cancel"]:
        _only(request, "POST")
        board.cancel(job)
        return Response("", code=303, headers={"location": request.app_url([job.id])})
    raise HTTPError(404)


def _only(request: Request, *methods: str) -> None:
    if request.command not in methods:
        raise HTTPError(405, headers={"allow": ", ".join(methods)})
