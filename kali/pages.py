"""Pages: every page of an app in its layout, one-time messages, error pages.

A data-entry app shows each page inside one layout (header, menu, a slot
for the page), tells the user "Saved." after a redirect, and wants its 404
page to look like the rest of the app. :class:`Pages` does the three::

    pages = Pages("templates", layout="base", section="")

    def save_contact(request):
        ...
        return redirect_with(request, "/contacts", "Saved.")

    def contacts(request):
        return pages.render(request, "contacts", title="Contacts", rows=rows)

    serve_http(sessions.wrap(router), error_page=pages.error_page)

``contacts.tpl`` renders into the layout's ``{content}`` slot; every value
(``title`` here) goes to the layout too, so a page fills other slots by
passing values named like them. A page file that begins with ``<extend>``
already is a whole page and is rendered as it is (its sections fill the
slots). Messages live in ``request.session`` (:mod:`kali.sessions`) until
the next page is rendered; they are always escaped.

A page that redirects to an address it was given (a ``back`` or ``next``
field) checks it with :func:`local_url` *before* doing its work: a target
that cannot be sent (a NUL, CR or LF in it) or leads off the app is then a
400 that changed nothing, not a 500 after the change was committed.

This module only renders: it must not touch sockets, import the server, or
keep state outside a :class:`Pages` instance (the messages of a browser
are in that browser's session cookie).
"""

from __future__ import annotations

import http
import os
import re
import types
from collections.abc import Mapping
from typing import Any, Union

from .errors import HTTPError
from .iolist import Fragment, Markup, escape
from .request import Request
from .response import Response
from .sessions import session_of
from .templates import SubAssembly, TemplateFolder, TemplateLoop

__all__ = [
    "ERROR_SENTENCES",
    "FLASH_KEY",
    "MAX_MESSAGES",
    "Pages",
    "flash",
    "local_url",
    "redirect_with",
    "take_messages",
]

#: The session key holding the messages waiting for the next page: a list
#: of ``[category, message]`` pairs (sessions hold JSON).
FLASH_KEY = "kali.flash"
#: Messages kept at most; older ones are dropped. A session lives in a
#: cookie of about 4 KB, and a page can only show so many messages anyway:
#: a loop that flashes without ever rendering a page must not break the
#: session.
MAX_MESSAGES = 10

#: What an error page says when kali or the app gave no words of its own
#: (an empty message, or just the reason phrase).
ERROR_SENTENCES = types.MappingProxyType(
    {
        400: "The request could not be understood.",
        403: "This page may not be opened from here.",
        404: "There is no page at this address.",
        405: "This page does not take that kind of request.",
        409: "Someone changed this meanwhile; please try again.",
        413: "What was sent is too large.",
        503: "The app is busy; please try again in a moment.",
    }
)
SERVER_ERROR_SENTENCE = (
    "Something went wrong on our side; the details are in the server's log."
)
CLIENT_ERROR_SENTENCE = "That did not work."

# A category becomes a CSS class: a plain identifier, nothing to escape.
_CATEGORY = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,39}\Z")

Folder = Union[TemplateFolder, str, "os.PathLike[str]"]


def flash(request: Request, message: str, category: str = "info") -> None:
    """Keep ``message`` for the next page rendered for this browser.

    ``category`` (``'info'``, ``'error'``, ...) becomes a CSS class. The
    message is text: it is escaped when shown. Raises RuntimeError when no
    :class:`~kali.sessions.Sessions` middleware wraps the handler, TypeError
    for a message that is not a str and ValueError for a category that is
    not an identifier.
    """
    if not isinstance(message, str):
        raise TypeError(f"a message must be a str, not {type(message).__name__}")
    if not isinstance(category, str) or not _CATEGORY.match(category):
        raise ValueError(f"a category must be a short identifier: {category!r}")
    session = session_of(request)
    waiting = session.get(FLASH_KEY)
    waiting = list(waiting) if isinstance(waiting, list) else []
    waiting.append([category, message])
    session[FLASH_KEY] = waiting[-MAX_MESSAGES:]


def redirect_with(
    request: Request, url: str, message: str, category: str = "info"
) -> Response:
    """:func:`flash` ``message``, then redirect to ``url`` (302): the end of
    a POST handler. Raises as :func:`flash` and ``Response.redirect`` do."""
    flash(request, message, category)
    return Response.redirect(url)


def local_url(target: object, default: str | None = None) -> str:
    """``target`` if it is an address in this app to redirect to, else
    ``default``; without a default, ``HTTPError(400)``.

    An address in this app is a str of printable ASCII without spaces that
    starts with ``/`` but not ``//`` or ``/\\`` (which browsers read as
    another host). Call it before the work that ends in the redirect::

        back = local_url(request.POST.get("back", "/tasks"))  # 400 first...
        database.execute("UPDATE ...")                        # ...or the work
        database.commit()
        return Response.redirect(back)
    """
    if (
        isinstance(target, str)
        and target.startswith("/")
        and not target.startswith(("//", "/\\"))
        and target.isascii()
        and all(" " < character < "\x7f" for character in target)
    ):
        return target
    if default is not None:
        return default
    raise HTTPError(400, "That return address is not a page of this app.")


def take_messages(request: Request | None) -> list[dict[str, str]]:
    """The messages waiting for ``request``'s browser, removed from its
    session: ``[{'message': ..., 'category': ...}]``. Empty without a
    request or session; entries that are not ``[str, str]`` are skipped."""
    session = getattr(request, "session", None) if request is not None else None
    if not isinstance(session, dict) or FLASH_KEY not in session:
        return []
    waiting = session.pop(FLASH_KEY)
    messages = []
    for entry in waiting if isinstance(waiting, list) else ():
        if (
            isinstance(entry, list)
            and len(entry) == 2
            and all(isinstance(part, str) for part in entry)
            and _CATEGORY.match(entry[0])
        ):
            messages.append({"category": entry[0], "message": entry[1]})
    return messages


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class Pages:
    """The pages of an app, rendered from one folder of templates.

    ``templates``: a :class:`~kali.templates.TemplateFolder`, or the path of
    one. ``layout``: the template every page goes into (its ``{content}``
    slot), or None for pages that are whole. ``error_template``: the page
    template for error pages, used when the folder has it. ``flash_template``:
    the template for one message (values ``message`` and ``category``), used
    when the folder has it; otherwise kali's own ``<p class="flash info"
    role="status">``. ``defaults``: values every page gets unless it passes
    its own (the layout's other slots: a missing value would show as
    ``{name}``).

    The layout receives, besides the page's values: ``content`` (the page),
    ``flash`` (the messages, rendered) and ``messages`` (the same as a list
    of ``{'message', 'category'}`` dicts, or None, for layouts that loop over
    them). Raises ValueError if ``templates`` is not a folder,
    FileNotFoundError if the layout is missing and TemplateSyntaxError if it
    is malformed.
    """

    def __init__(
        self,
        templates: Folder,
        /,
        *,
        layout: str | None = "base",
        error_template: str = "error",
        flash_template: str = "flash",
        **defaults: Any,
    ) -> None:
        if not isinstance(templates, TemplateFolder):
            templates = TemplateFolder(os.fspath(templates))
        self.templates = templates
        self.layout = layout
        self.error_template = error_template
        self.flash_template = flash_template
        self.defaults = {"title": "", **defaults}
        if layout is not None:
            self._template(layout)  # fail now, not on the first request

    def __repr__(self) -> str:
        return f"<Pages {str(self.templates.folder)!r} layout={self.layout!r}>"

    def _template(self, name: str) -> Any:
        template = self.templates(name)
        if isinstance(template, TemplateLoop):
            raise TypeError(
                f"template {name!r} is a <loop> file, not a page: render it "
                "with .loop(items) and pass the result as a value"
            )
        return template

    def _optional(self, name: str) -> Any:
        """The template ``name``, or None when the folder has no such file."""
        try:
            if not self.templates.resolve(name).is_file():
                return None
        except ValueError:
            return None
        return self._template(name)

    # -- pages -----------------------------------------------------------------

    def render(
        self, request: Request | None, name: str | None, /, **values: Any
    ) -> Fragment:
        """The page ``name`` (``name.tpl``) in the layout, as template output.

        ``values`` go to the page and to the layout (strs are escaped;
        template output and Markup are inserted as they are). Messages
        waiting in the session are shown, once. ``name`` None renders the
        layout alone, with ``content`` taken from ``values``. A handler may
        return the result as it is (a 200 page) or wrap it in a Response.
        Raises FileNotFoundError for a missing template.
        """
        messages = take_messages(request)
        return self._render(name, self._with_defaults(messages, values))

    __call__ = render

    #: :func:`flash` and :func:`redirect_with`, for apps that only import Pages.
    flash = staticmethod(flash)
    redirect_with = staticmethod(redirect_with)

    def _with_defaults(
        self, messages: list[dict[str, str]], values: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {
            **self.defaults,
            "flash": self.render_messages(messages),
            "messages": messages or None,
            "content": None,
            **values,
        }

    def _render(self, name: str | None, values: dict[str, Any]) -> Fragment:
        if name is not None:
            page = self._template(name)
            # An <extend> page is a SubAssembly: the layout is in it already.
            if self.layout is None or isinstance(page, SubAssembly):
                return Fragment(page.sub(values))
            if "content" in values and values["content"] is not None:
                raise TypeError(
                    f"page {name!r}: 'content' is the page's own output; "
                    "pass the page's parts under other names"
                )
            values["content"] = page.sub(values)
        elif self.layout is None:
            return Fragment([values["content"]]) if values["content"] else Fragment()
        assert self.layout is not None
        return Fragment(self._template(self.layout).sub(values))

    def render_messages(self, messages: list[dict[str, str]]) -> Fragment | None:
        """The messages as HTML, one after the other (None for none)."""
        if not messages:
            return None
        template = self._optional(self.flash_template)
        if template is not None:
            return Fragment(template.sub(message) for message in messages)
        return Fragment(
            Markup(
                f'<p class="flash {escape(message["category"])}" '
                # An error is announced at once; other news politely.
                f'role="{"alert" if message["category"] == "error" else "status"}">'
                f"{escape(message['message'])}</p>\n"
            )
            for message in messages
        )

    # -- error pages -----------------------------------------------------------

    def error_page(
        self, request: Request | None, status: int, message: str
    ) -> Response:
        """An error page in the app's layout: ``serve_http(app,
        error_page=pages.error_page)``.

        Renders the folder's error template if it has one, else a short
        built-in body, in the layout, with ``status``, ``reason``,
        ``heading`` and ``title`` (the reason phrase) and ``message``
        (kali's or an HTTPError's words; a plain sentence from
        :data:`ERROR_SENTENCES` when there are none: exception texts never
        reach here). ``request`` is None for requests
        refused before one was built. Messages waiting in the session are
        not shown (an error page saves no session). A failure propagates:
        kali then logs it and answers with its own plain page.
        """
        reason = _reason(status)
        if not message or message == reason:
            message = ERROR_SENTENCES.get(
                status,
                SERVER_ERROR_SENTENCE if status >= 500 else CLIENT_ERROR_SENTENCE,
            )
        values = self._with_defaults(
            [],
            {
                "status": status,
                "reason": reason,
                "heading": reason,
                "title": reason,
                "message": message,
            },
        )
        if self._optional(self.error_template) is not None:
            page = self._render(self.error_template, values)
        else:
            values["content"] = Markup(
                f'<p class="error-message">{escape(message)}</p>\n'
            )
            page = self._render(None, values)
        return Response(page, code=status)
