"""Formlet: the GET / POST / save workflow of a record form, as a servlet.

Subclass :class:`Formlet`, hand its constructor a dict of form elements, and
fill in three methods; mount the class with ``@router.servlet(...)``::

    @router.servlet("/person/*")
    class EditPerson(Formlet):
        def __init__(self, person_id):
            super().__init__({"name": Entry(label="Name")})
            self.person_id = int(person_id)

        def get_native(self):
            sql = "SELECT * FROM person WHERE id=?"
            return db.execute(sql, [self.person_id]).fetchone()

        def display(self, fields, errors):
            return PAGE(**fields, errors=errors)

        def save(self, native, request):
            sql = "UPDATE person SET name=? WHERE id=?"
            db.execute(sql, [native["name"], self.person_id])
            db.commit()
            return Response.redirect("/people")

Without a ``display`` method the Formlet shows a plain page of its own: a
heading (``title``) and the whole form from :meth:`Formlet.render_form`,
with labels, a message beside each wrong field and a ``submit_label``
button. Override ``render_field`` to change one field's HTML, or
``display`` (calling ``self.render_form(errors)`` for the form) to put it in
the app's own page.

A GET shows the record; a POST converts and validates every field and, on
any error, shows the form again with the user's own input and a message per
field; otherwise it calls ``save``, which may still refuse with
:class:`SaveError`. Give ``guard=SubmitGuard(secret=...)`` to a create form
so that a double click or a reload does not save twice: the repeat gets a
copy of the first answer, without its cookies (a session saved since is
never overwritten by an old one). When SQLite stays locked by another
process (``save`` raises "database is locked"), the form comes back as
typed with :data:`BUSY_MESSAGE`, as a 503.

This module is the routing-layer end of ``kali.forms``: the only one that
knows servlets, requests and responses. The conversion work is
:class:`~kali.forms.form.Form`'s.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any, NamedTuple

from ..iolist import Fragment, Markup
from ..request import Request
from ..response import Response
from ..routing import Servlet
from .elements import FormElement
from .form import Form, SaveError
from .guard import SubmitGuard, TokenState
from .rendering import FieldView, render_field, render_form
from .widgets import escape_text, render_errors

__all__ = ["BUSY_MESSAGE", "EXPIRED_MESSAGE", "Formlet"]

log = logging.getLogger("kali")

#: Shown (under the guard's field name) when a form comes back with a token the
#: guard does not know: issued before a restart, or forgotten as too old.
EXPIRED_MESSAGE = (
    "This form had expired, so it was not saved yet. Check it and save it again."
)
#: Shown above the form when SQLite stayed locked by another program.
BUSY_MESSAGE = "The database is busy; your input is kept, try again in a moment."
#: Seconds the 503 of a busy database asks the browser to wait.
BUSY_RETRY_AFTER = 1


class _Replay(NamedTuple):
    """What a saved form answered, kept to answer a repeat of it: the status,
    the headers but its cookies (they belonged to that moment's session,
    and are added afterwards by the session middleware anyway) and the body."""

    code: int
    headers: list[tuple[str, str]]
    body: bytes

    @staticmethod
    def of(outcome: Any) -> Any:
        """A replay of ``outcome`` if it is a Response held in memory, else
        ``outcome`` itself."""
        if not isinstance(outcome, Response) or outcome.file_span is not None:
            return outcome
        chunks = outcome.chunks
        if chunks is None:  # a stream: it cannot be sent twice
            return outcome
        headers = [
            pair
            for pair in outcome.headers
            if pair[0] not in ("set-cookie", "content-length")
        ]
        return _Replay(outcome.code, headers, b"".join(chunks))

    def response(self) -> Response:
        """A fresh Response with the remembered status, headers and body."""
        return Response(self.body, code=self.code, headers=self.headers)


def _is_busy(error: BaseException) -> bool:
    """Is ``error`` SQLite's "database is locked"? (No sqlite3 imported: no.)"""
    if "sqlite3" not in sys.modules:
        return False
    from ..sqlite import is_busy_error

    return is_busy_error(error)


class Formlet(Servlet):
    """A servlet for a form that creates or edits one record.

    ``elements`` maps field names to :class:`~kali.forms.elements.FormElement`
    objects; ``guard`` (a :class:`~kali.forms.guard.SubmitGuard` created once
    by the app) makes the form save at most once per display. The attributes
    ``elements``, ``guard`` and ``request`` (None until ``do_GET`` or
    ``do_POST`` sets it) are there for the subclass to use.
    """

    #: A subclass may also set the guard as a class attribute.
    guard: SubmitGuard | None = None
    #: The heading and page title of the default :meth:`display`.
    title = "Form"
    #: A :class:`kali.pages.Pages` (anything with its ``render``): when set,
    #: the default page is shown in the app's layout.
    pages: Any = None
    #: The text of the submit button that :meth:`render_form` writes.
    submit_label = "Save"

    def __init__(
        self,
        elements: Mapping[str, FormElement],
        *,
        guard: SubmitGuard | None = None,
    ) -> None:
        self.elements = elements
        self.request: Request | None = None
        if guard is not None:
            self.guard = guard
        self._token = ""
        self._intermediate: dict[str, Any] = {}

    # -- to fill in ------------------------------------------------------

    def get_native(self) -> Any:
        """The record the form starts from: a dict or ``sqlite3.Row`` (or None).

        Missing fields read as None, so ``{}`` is a blank "create" form.
        """
        raise NotImplementedError(type(self))

    def display(self, fields: dict[str, Any], errors: dict[str, Any]) -> Any:
        """Show the form; return a Response or an iolist.

        ``fields`` maps each field name to its trusted HTML (plus, with a
        guard, the guard's field name to the hidden token input); ``errors``
        maps field names to messages, and is empty on the first display.
        Inserted in a template as ``{errors}``, it gives ``name: message``
        lines; :meth:`render_errors` gives an HTML list, and
        :meth:`render_form` the whole form.

        By default: a page headed ``title`` around :meth:`render_form`
        (``fields`` is then empty: the renderer writes the fields itself).
        """
        return self.render_page(self.render_form(errors))

    def semantic_checks(self, native: dict[str, Any], errors: dict[str, Any]) -> None:
        """Check the fields against each other; add messages to ``errors``.

        Runs only when every field converted cleanly. Does nothing by default.
        """

    def save(self, native: dict[str, Any], request: Request) -> Any:
        """Store the converted values and return the answer (usually a redirect).

        Raise :class:`SaveError` with an errors dict to show the form again.
        """
        raise NotImplementedError(type(self))

    def answer_resubmission(self, outcome: Any) -> Any:
        """Answer a form posted again after it was saved (guarded forms only).

        ``outcome`` is what ``save`` returned the first time; a Response
        comes as a fresh copy, without the cookies the first answer set. The
        default sends that copy (typically the redirect to the new record),
        and for anything else (a file or a stream) a short page saying it
        was saved.
        """
        if (
            isinstance(outcome, Response)
            and outcome.content_length is not None
            and outcome.file_span is None
        ):
            return outcome
        return Response.generic(
            Markup("<p>This form was already saved; it was not saved again.</p>"),
            title="Already saved",
        )

    # -- helpers for display -----------------------------------------------

    def render_errors(self, errors: Mapping[str, Any]) -> Markup:
        """``errors`` as an escaped HTML list, fields named by their labels."""
        labels = Form(self.elements).labels()
        if self.guard is not None:
            labels[self.guard.field_name] = ""
        return render_errors(errors, labels)

    def render_form(
        self, errors: Mapping[str, Any] | None = None, **options: Any
    ) -> Any:
        """The whole ``<form>`` being displayed, with ``errors`` beside the fields.

        Labels, controls, messages, the guard's token and a ``submit_label``
        button; each field goes through :meth:`render_field`. ``options``
        are passed on to :func:`~kali.forms.rendering.render_form` (such as
        ``action``, ``submit`` or ``layout``). Call it from :meth:`display`.
        """
        options.setdefault("submit", self.submit_label)
        options.setdefault("render_field", self.render_field)
        if self.guard is not None and self._token:
            options.setdefault("hidden", self.guard.render(self._token))
        return render_form(self.elements, self._intermediate, errors, **options)

    def render_field(self, field: FieldView) -> Any:
        """One field's HTML in :meth:`render_form`; override to change some.

        ``field`` has the ``name``, ``element``, ``value`` and ``message``,
        and the default ``label``, ``control`` and ``error`` HTML. The
        default is :func:`~kali.forms.rendering.render_field`'s block.
        """
        return render_field(field)

    def render_page(self, body: Any) -> Any:
        """The page around ``body``: in the app's layout when ``pages`` is
        set (``pages.render(request, None, title=..., content=body)``), else
        a minimal HTML page headed ``title``."""
        if self.pages is not None:
            return self.pages.render(self.request, None, title=self.title, content=body)
        title = escape_text(self.title)
        return Fragment(
            [
                '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
                '<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n",
                body,
                "</body></html>\n",
            ]
        )

    # -- the workflow ------------------------------------------------------

    def show(self, intermediate: dict[str, Any], errors: dict[str, Any]) -> Any:
        """The form again with ``intermediate`` (the user's own text per
        field) and ``errors``, as after a failed POST: for a handler of its
        own that refuses a submission (e.g. a button other than "Save")."""
        return self._display(intermediate, errors)

    def _display(self, intermediate: dict[str, Any], errors: dict[str, Any]) -> Any:
        self._intermediate = intermediate
        if self.guard is not None and not self._token:
            self._token = self.guard.issue()
        fields: dict[str, Any] = {}
        # The default display renders the form itself: skip rendering twice.
        if type(self).display is not Formlet.display:
            fields = Form(self.elements).render(intermediate)
            if self.guard is not None:
                fields[self.guard.field_name] = self.guard.render(self._token)
        return self.display(fields, errors)

    def do_GET(self, request: Request) -> Any:  # noqa: N802 (HTTP method name)
        """Show the form filled from :meth:`get_native`."""
        self.request = request
        self._token = ""
        return self._display(Form(self.elements).from_native(self.get_native()), {})

    def do_POST(self, request: Request) -> Any:  # noqa: N802
        """Convert and check the posted form; save it, or show it again."""
        self.request = request
        self._token = ""
        guard = self.guard
        state = TokenState.UNKNOWN
        if guard is not None:
            token = guard.token_from(request.POST)
            state = guard.state(token)
            if state is TokenState.USED:
                outcome = guard.outcome(token)
                if isinstance(outcome, _Replay):
                    outcome = outcome.response()
                return self.answer_resubmission(outcome)
            if state is TokenState.PENDING:
                self._token = token
        posted = Form(self.elements).parse(request.POST)
        errors: dict[str, Any] = posted.errors
        if not errors:
            self.semantic_checks(posted.native, errors)
        if not errors and guard is not None and state is not TokenState.PENDING:
            errors[guard.field_name] = EXPIRED_MESSAGE
        if errors:
            return self._display(posted.intermediate, errors)
        try:
            outcome = self.save(posted.native, request)
        except SaveError as error:
            return self._display(posted.intermediate, error.errors)
        except Exception as error:
            if not _is_busy(error):
                raise
            log.warning(
                "%s %s: the database stayed locked; showed the form again (503)",
                request.command,
                request.uri,
            )
            return self.answer_busy(posted.intermediate)
        if guard is not None:
            guard.complete(self._token, _Replay.of(outcome))
        return outcome

    def answer_busy(self, intermediate: dict[str, Any]) -> Response:
        """The form as the user typed it (``intermediate``), with
        :data:`BUSY_MESSAGE` on top, as a 503 with ``Retry-After``: for a
        save that found the database locked by another program. Nothing was
        saved; a guarded form keeps its token, so saving again works."""
        page = self._display(intermediate, {"": BUSY_MESSAGE})
        retry = ("retry-after", str(BUSY_RETRY_AFTER))
        if not isinstance(page, Response):
            return Response(page, code=503, headers=[retry])
        page.code = 503
        return page.set_header(*retry)
