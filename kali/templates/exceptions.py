"""Template errors, and how a render-time error is told where it happened.

:class:`TemplateSyntaxError` is raised while a template is being read: it names
the file, the line and the column, and says what was expected.
:class:`MissingNameError` (a KeyError) is raised while a template renders,
for a name the template needs and was not given; its message says where.
Other errors raised while a template renders (a formatter that fails) are not
replaced: the same exception propagates, with a note naming the template and
the placeholder (:func:`attach_note`).

This module must not import anything from kali: every template module uses it.
"""

from __future__ import annotations

import sys


class TemplateSyntaxError(ValueError):
    """A template's text cannot be compiled.

    ``str(error)`` reads ``file:line:column: message``.  The parts are also
    attributes: ``filename`` (the file, or ``'<template>'`` for a template made
    from a string), ``lineno`` and ``column`` (both 1-based) and ``message``.
    ``name``, ``line`` are aliases of ``filename`` and ``lineno``.
    """

    def __init__(
        self, message: str, filename: str, lineno: int, column: int = 1
    ) -> None:
        super().__init__(f"{filename}:{lineno}:{column}: {message}")
        self.message = message
        self.filename = filename
        self.lineno = lineno
        self.column = column

    @property
    def name(self) -> str:
        return self.filename

    @property
    def line(self) -> int:
        return self.lineno


class MissingNameError(KeyError):
    """A template uses a name that its parameters do not have.

    Raised for ``{.name}``, ``{name:fmt}`` and ``{@name}`` always, and for
    ``{name}`` and ``{?name}`` in strict mode.  A KeyError, as in kali 0.0.8:
    ``args[0]`` is the missing name.  ``str(error)`` reads
    ``file:line:column: message``; the parts are attributes: ``name`` (the
    missing name), ``filename``, ``lineno``, ``column`` (1-based), ``source``
    (the placeholder's text) and ``message``.
    """

    def __init__(
        self,
        message: str,
        name: str,
        filename: str,
        lineno: int,
        column: int,
        source: str,
    ) -> None:
        super().__init__(name)
        self.message = message
        self.name = name
        self.filename = filename
        self.lineno = lineno
        self.column = column
        self.source = source

    def __str__(self) -> str:
        return f"{self.filename}:{self.lineno}:{self.column}: {self.message}"


def attach_note(error: BaseException, note: str) -> None:
    """Add ``note`` to ``error`` without changing its type or identity.

    On Python 3.11+ this is ``error.add_note(note)``, shown under the
    traceback.  Python 3.9 and 3.10 have no notes, so the note is kept in
    ``__notes__`` (where 3.11 keeps it) *and* appended to ``error.args``, which
    makes it part of the last line of the traceback.
    """
    if sys.version_info >= (3, 11):
        error.add_note(note)
    else:  # pragma: no cover - exercised through attach_note_legacy
        attach_note_legacy(error, note)


def attach_note_legacy(error: BaseException, note: str) -> None:
    """The Python 3.9/3.10 half of :func:`attach_note` (tested on every version)."""
    notes = getattr(error, "__notes__", None)
    if not isinstance(notes, list):
        notes = []
        error.__notes__ = notes  # type: ignore[attr-defined]
    notes.append(note)
    error.args = (*error.args, note)
