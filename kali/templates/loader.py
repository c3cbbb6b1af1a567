"""TemplateFolder: templates read from files, cached by name.

A file is read as UTF-8 (a BOM is ignored), left-stripped, and read by how it
begins:

``<extend>``
    Sections split at processing instructions ``<?NAME?>``.  The first
    section names the base template (loaded through the same folder, so any
    depth works); each later section is the template bound to ``NAME``.  An
    optional closing ``</extend>`` may be followed only by whitespace.  The
    result is ``base.assembly(**sections)``.
``<loop>``
    The first section is the preamble; ``<?begin?>`` (required) the body;
    ``<?end?>`` the epilogue (default empty); ``<?else?>`` the template for no
    items.  ``</loop>`` is optional.  The result is a ``TemplateLoop``.
anything else
    A ``Template``.

Every template the folder makes gets the folder's ``strict`` setting and its
``formatters``, so a ``{name:fmt}`` with an unknown formatter is a syntax
error in a folder's files (it is literal text in a ``Template`` made directly,
as in kali 0.0.8).

This module owns file access and the cache; it must not compile templates
itself (it hands text and positions to ``Template``).
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar, Union

from .exceptions import TemplateSyntaxError, attach_note
from .formatters import check_formatters
from .template import AbstractTemplate, Template, TemplateLoop

Loaded = Union[AbstractTemplate, TemplateLoop]
_Result = TypeVar("_Result")

BEGIN_EXTEND, END_EXTEND = "<extend>", "</extend>"
BEGIN_LOOP, END_LOOP = "<loop>", "</loop>"
LOOP_SECTIONS = ("begin", "end", "else")

# A processing instruction on one line: <?name?>.
_INSTRUCTION = re.compile(r"<\?(.*?)\?>")


class TemplateFolder:
    """Templates from the files in ``path``: ``folder('page')`` reads page.tpl.

    ``strict`` (see :class:`Template`): None, the default, makes rendering
    raise :class:`~kali.templates.MissingNameError` for a ``{name}`` or
    ``{?name}`` that was not passed, but only under pytest or with the
    environment variable ``KALI_DEBUG=1`` (which ``serve_http(debug=True)``
    sets), checked when a name is missing; True always; False never (a missing
    ``{name}`` stays literal, as in kali 0.0.8).

    ``formatters`` maps names to functions for ``{price:money}``; they are
    looked up before ``Template.REGISTRY``, and a formatter found in neither
    is a TemplateSyntaxError when the file is read.

    Raises ValueError if ``path`` is not a directory or a formatter name is
    not usable, TypeError for a formatter that is not callable.  Each
    template is read once and kept until :meth:`invalidate_cache` (or a
    :meth:`wrap`-ped handler) clears the cache.
    """

    BEGIN_ASSY, END_ASSY = BEGIN_EXTEND, END_EXTEND
    BEGIN_LOOP, END_LOOP = BEGIN_LOOP, END_LOOP

    def __init__(
        self,
        path: str | pathlib.Path,
        extension: str | None = ".tpl",
        *,
        strict: bool | None = None,
        formatters: Mapping[str, Callable[[Any], Any]] | None = None,
    ) -> None:
        self.folder = pathlib.Path(path)
        if not self.folder.is_dir():
            raise ValueError(f"TemplateFolder needs a directory: {str(path)!r}")
        if strict is not None and not isinstance(strict, bool):
            raise TypeError(f"strict must be True, False or None, not {strict!r}")
        self.extension = extension or ""
        self.strict = strict
        #: The folder's own formatters, keyed ``':name'`` (read-only).
        self.formatters: Mapping[str, Callable[[Any], Any]] = MappingProxyType(
            check_formatters(formatters or {})
        )
        self._cache: dict[str, Loaded] = {}
        self._loading: list[str] = []  # names being read, to catch cycles

    def __call__(self, name: str) -> Any:
        """The template called ``name`` (its file is ``name + extension``).

        ``name`` may contain ``/`` for sub-folders.  Raises ValueError for a
        name that could leave the folder (absolute, ``..``, ``\\``, NUL,
        ``:``, or a symlink pointing outside), FileNotFoundError if there is
        no such file, and TemplateSyntaxError for a malformed file.
        """
        try:
            return self._cache[name]
        except KeyError:
            pass
        path = self.resolve(name)
        if name in self._loading:
            cycle = " -> ".join([*self._loading, name])
            raise ValueError(f"templates extend each other in a cycle: {cycle}")
        self._loading.append(name)
        try:
            loaded = self.read(path)
        finally:
            self._loading.pop()
        self._cache[name] = loaded
        return loaded

    def resolve(self, name: str) -> pathlib.Path:
        """The file for ``name``, or ValueError if it would lie outside."""
        if not isinstance(name, str):
            raise TypeError(f"template name must be a str, not {type(name).__name__}")
        parts = name.split("/")
        if (
            not name
            or name.startswith("/")
            or any(char in name for char in "\\\0:")
            or ".." in parts
        ):
            raise ValueError(f"not a template name inside the folder: {name!r}")
        path = self.folder.joinpath(*parts[:-1], parts[-1] + self.extension)
        root = self.folder.resolve()
        if not path.resolve().is_relative_to(root):
            raise ValueError(f"template {name!r} resolves outside {str(root)!r}")
        return path

    def read(self, path: pathlib.Path) -> Loaded:
        """Read and compile one file (no cache)."""
        filename = str(path)
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            lineno = data.count(b"\n", 0, error.start) + 1
            raise TemplateSyntaxError(
                f"not valid UTF-8 ({error.reason})", filename, lineno
            ) from error
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        return _FileReader(self, filename, text).read()

    def invalidate_cache(self) -> None:
        """Forget every template read so far; they are read again when asked for."""
        self._cache.clear()

    def wrap(self, handler: Callable[[Any], _Result]) -> Callable[[Any], _Result]:
        """A handler that clears the cache before each request, then delegates.

        For development: edits to template files show on the next request.
        Exceptions from ``handler`` propagate unchanged.
        """

        def wrapper(request: Any) -> _Result:
            self.invalidate_cache()
            return handler(request)

        return wrapper


class _FileReader:
    """Reads one file's text; positions are reported in that file."""

    def __init__(self, folder: TemplateFolder, filename: str, text: str) -> None:
        self.folder = folder
        self.filename = filename
        self.text = text

    def position(self, offset: int) -> tuple[int, int]:
        lineno = self.text.count("\n", 0, offset) + 1
        return lineno, offset - (self.text.rfind("\n", 0, offset) + 1) + 1

    def fail(self, message: str, offset: int) -> TemplateSyntaxError:
        return TemplateSyntaxError(message, self.filename, *self.position(offset))

    def template(self, start: int, end: int) -> Template:
        """A Template of ``text[start:end]`` stripped, knowing its position."""
        section = self.text[start:end]
        start += len(section) - len(section.lstrip())
        return self.make(section.strip(), start)

    def make(self, text: str, start: int) -> Template:
        """A Template of ``text``, which starts at ``start``, with the folder's
        settings."""
        lineno, column = self.position(start)
        return Template(
            text,
            name=self.filename,
            lineno=lineno,
            column=column,
            strict=self.folder.strict,
            formatters=self.folder.formatters,
        )

    def read(self) -> Loaded:
        text = self.text
        start = len(text) - len(text.lstrip())
        if text.startswith(BEGIN_EXTEND, start):
            return self.read_extend(start)
        if text.startswith(BEGIN_LOOP, start):
            return self.read_loop(start)
        # A plain template is only left-stripped, as in 0.0.8.
        return self.make(text[start:], start)

    def sections(
        self, start: int, end_marker: str
    ) -> list[tuple[str | None, int, int, int]]:
        """Split the composite file into ``(name, offset, start, end)`` sections.

        ``offset`` is where the ``<?name?>`` instruction begins; the first
        section has no name.  Raises TemplateSyntaxError for text after the
        closing tag.
        """
        end = self.text.rfind(end_marker)
        if end == -1:
            end = len(self.text)
        else:
            after = end + len(end_marker)
            trailing = self.text[after:]
            if trailing.strip():
                offset = after + len(trailing) - len(trailing.lstrip())
                raise self.fail(f"expected nothing after {end_marker}", offset)
        found: list[tuple[str | None, int, int, int]] = []
        name: str | None = None
        marker, left = start, start
        for match in _INSTRUCTION.finditer(self.text, start, end):
            found.append((name, marker, left, match.start()))
            name, marker, left = match.group(1).strip(), match.start(), match.end()
        found.append((name, marker, left, end))
        return found

    def read_extend(self, start: int) -> AbstractTemplate:
        sections = self.sections(start + len(BEGIN_EXTEND), END_EXTEND)
        _, _, first, last = sections[0]
        base_name = self.text[first:last].strip()
        if not base_name:
            raise self.fail(
                f"expected the name of the base template after {BEGIN_EXTEND}", start
            )
        base_offset = self.text.index(base_name, first, last)
        bindings = {
            str(name): self.template(left, right)
            for name, _, left, right in sections[1:]
        }
        try:
            base = self.folder(base_name)
        except TemplateSyntaxError:
            raise
        except ValueError as error:  # a bad name, or a cycle
            raise self.fail(str(error), base_offset) from error
        except FileNotFoundError as error:
            lineno, column = self.position(base_offset)
            attach_note(
                error,
                f"in template {self.filename}, line {lineno}, column {column}: "
                f"{BEGIN_EXTEND}{base_name}",
            )
            raise
        if not isinstance(base, AbstractTemplate):
            raise self.fail(
                f"cannot extend {base_name!r}: it is a {BEGIN_LOOP} file", base_offset
            )
        return base.assembly(**bindings)

    def read_loop(self, start: int) -> TemplateLoop:
        sections = self.sections(start + len(BEGIN_LOOP), END_LOOP)
        _, _, first, last = sections[0]
        parts: dict[str, tuple[int, int]] = {}
        for name, marker, left, right in sections[1:]:
            if name not in LOOP_SECTIONS:
                raise self.fail(
                    f"unknown section <?{name}?> in a {BEGIN_LOOP} file: "
                    "expected <?begin?>, <?end?> or <?else?>",
                    marker,
                )
            parts[str(name)] = (left, right)
        if "begin" not in parts:
            raise self.fail(
                f"expected a <?begin?> section (the loop body) in this {BEGIN_LOOP} "
                "file",
                start,
            )
        otherwise = None
        if "else" in parts and self.text[slice(*parts["else"])].strip():
            otherwise = self.template(*parts["else"])
        return TemplateLoop(
            self.template(first, last),
            self.template(*parts["begin"]),
            self.template(*parts["end"]) if "end" in parts else self.make("", start),
            otherwise,
        )
