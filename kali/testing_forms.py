"""The forms of a page, filled in and submitted as a browser would (for tests).

``kali.testing`` uses this for ``page.form()``::

    page = client.get("/contacts/new")
    form = page.form()                    # the page's only form
    form["name"] = "Ann"
    form.set("tags", ["a", "b"])          # checkboxes or a <select multiple>
    form["photo"] = ("ann.png", b"...", "image/png")
    saved = form.submit()                 # through the same test client

The page is read by :mod:`kali.htmlforms` (``html.parser``). A field can
only be set to what a user could choose (ValueError otherwise: an option
the select does not have, a value no radio button has); hidden fields keep
their values unless a test sets them on purpose. Submitting builds the
entry list as the HTML standard describes (fields in document order,
checked boxes only, the selected options, the pressed button, newlines as
CRLF) and encodes it by the form's method and enctype.

There is no JavaScript, no ``<base href>``, and ``<fieldset disabled>``
disables its ``<legend>`` too. This module must not import the HTTP layers:
it hands a method, a path and a body to the client it is given.
"""

from __future__ import annotations

import datetime
import decimal
import re
import secrets
import urllib.parse
from collections.abc import Iterable
from typing import Any, Protocol, Union

from .htmlforms import Field, Option, Upload, parse_html_forms

__all__ = [
    "Field",
    "Form",
    "Option",
    "Upload",
    "encode_multipart_entries",
    "parse_forms",
]

#: One entry of a form submission: a text value or an upload.
Entry = tuple[str, Union[str, Upload]]

URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
TEXT_PLAIN = "text/plain"

_SUBMITTERS = frozenset({"submit", "image"})
_NEWLINES = re.compile(r"\r\n|\r|\n")


class Client(Protocol):
    """What a form needs of ``kali.testing.Client``."""

    host: str

    def request(self, method: str, path: str, **options: Any) -> Any: ...


class Form:
    """A form of a page: ``action``, ``method`` (upper-case), ``enctype``,
    ``id``, ``name``, ``attributes`` and ``fields`` (every control, in
    document order). ``form[name]`` reads a value, ``form[name] = value``
    and :meth:`set` change it, :meth:`submit` sends it.
    """

    def __init__(
        self,
        attributes: dict[str, str],
        url: str,
        client: Any,
        fields: list[Field] | None = None,
    ) -> None:
        self.attributes = attributes
        self.id = attributes.get("id")
        self.name = attributes.get("name")
        self.action = attributes.get("action", "")
        self.method = attributes.get("method", "get").upper()
        self.enctype = attributes.get("enctype", URLENCODED).lower()
        self.fields: list[Field] = fields if fields is not None else []
        #: The page's own URL (path and query), for a relative action.
        self.url = url
        self.client = client

    def __repr__(self) -> str:
        label = f"#{self.id}" if self.id else (self.name or "")
        return f"<Form {label} {self.method} {self.action!r}>"

    # -- reading and changing fields -------------------------------------------

    def fields_named(self, name: str) -> list[Field]:
        """The controls called ``name``, buttons left out; KeyError if none."""
        found = [f for f in self.fields if f.name == name and not f.is_button]
        if not found:
            if any(f.name == name for f in self.fields):
                raise KeyError(
                    f"{name!r} is a button: press it with submit(button={name!r})"
                )
            known = ", ".join(sorted({f.name for f in self.fields if f.name}))
            raise KeyError(f"the form has no field {name!r} (it has: {known})")
        return found

    def _editable(self, name: str) -> list[Field]:
        # A hidden field beside a checkbox of the same name is the usual
        # "send 0 when unchecked" idiom: setting the name means the checkbox.
        found = self.fields_named(name)
        return [f for f in found if f.type != "hidden"] or found

    def __contains__(self, name: object) -> bool:
        return any(f.name == name and not f.is_button for f in self.fields)

    def __getitem__(self, name: str) -> Any:
        """The value a submission would send for ``name``: a str, None (an
        unchecked box or radio group), a list (several boxes, a multiple
        select, several fields of that name) or an upload tuple."""
        return self.get(name)

    def get(self, name: str, index: int | None = None) -> Any:
        """``form[name]``, or the value of the ``index``-th field called ``name``."""
        fields = self._editable(name)
        if index is not None:
            fields = [fields[index]]
        kinds = {f.type for f in fields}
        if kinds == {"checkbox"}:
            values = [f.value for f in fields if f.checked]
            if len(fields) == 1:
                return values[0] if values else None
            return values
        if kinds == {"radio"}:
            return next((f.value for f in fields if f.checked), None)
        values = [_current(f) for f in fields]
        return values[0] if len(values) == 1 else values

    def __setitem__(self, name: str, value: Any) -> None:
        self.set(name, value)

    def set(self, name: str, value: Any, index: int | None = None) -> None:
        """Change field ``name`` as a user could.

        Text fields take a str (numbers and dates are written out);
        checkboxes take True/False, a value, or a list of the values to
        check; a radio group takes one of its values (or None); a select
        takes an option value, a multiple select a list of them; a file
        field takes ``(filename, bytes[, content_type])`` (or None). Several
        text fields of one name take a list (one value each) or ``index``.

        Raises KeyError for a name the form does not have, ValueError for a
        value the user could not choose or a disabled field, and TypeError
        for a value of the wrong kind.
        """
        fields = self._editable(name)
        if index is not None:
            fields = [fields[index]]
        for field in fields:
            if field.disabled:
                raise ValueError(
                    f"field {name!r} is disabled: a browser would not send it"
                )
        kinds = {f.type for f in fields}
        if kinds == {"checkbox"}:
            _check_boxes(name, fields, value)
        elif kinds == {"radio"}:
            _check_radio(name, fields, value)
        elif len(fields) == 1:
            _set_one(fields[0], value)
        elif isinstance(value, (list, tuple)) and len(value) == len(fields):
            for field, item in zip(fields, value):
                _set_one(field, item)
        else:
            raise ValueError(
                f"the form has {len(fields)} fields called {name!r}: give a list "
                f"of {len(fields)} values or an index"
            )

    # -- submitting ------------------------------------------------------------

    def submitter(self, button: str | tuple[str, str] | None = None) -> Field | None:
        """The button ``button`` names (by name, id or value; or a
        ``(name, value)`` pair), or the first submit button (what pressing
        Enter uses). ValueError if no button or several match."""
        buttons = [f for f in self.fields if f.type in _SUBMITTERS]
        if button is None:
            return buttons[0] if buttons and not buttons[0].disabled else None
        if isinstance(button, tuple):
            found = [f for f in buttons if (f.name, f.value) == button]
        elif isinstance(button, str):
            found = [f for f in buttons if f.name == button]
            found = found or [f for f in buttons if f.attributes.get("id") == button]
            found = found or [
                f for f in buttons if button in (f.value, f.label.strip())
            ]
        else:
            raise TypeError(f"button must be a str or (name, value), not {button!r}")
        if len(found) != 1:
            shown = [(f.name, f.value) for f in buttons]
            problem = "no submit button" if not found else "several submit buttons"
            raise ValueError(f"{problem} match {button!r}; the form has {shown}")
        if found[0].disabled:
            raise ValueError(f"button {button!r} is disabled")
        return found[0]

    def entries(self, button: str | tuple[str, str] | None = None) -> list[Entry]:
        """What submitting with ``button`` sends, in order (HTML's "entry
        list"): ``(name, str)`` or ``(name, (filename, content, type))``."""
        return self._entries(self.submitter(button))

    def _entries(self, pressed: Field | None) -> list[Entry]:
        found: list[Entry] = []
        for field in self.fields:
            if field.disabled or (field.is_button and field is not pressed):
                continue
            if field.type == "image":
                prefix = f"{field.name}." if field.name else ""
                found += [(prefix + "x", "0"), (prefix + "y", "0")]
                continue
            if not field.name:
                continue
            if field.type in ("checkbox", "radio"):
                if field.checked:
                    found.append((field.name, field.value))
            elif field.type == "select":
                found += [(field.name, o.value) for o in _chosen(field)]
            elif field.type == "file":
                chosen = field.upload or ("", b"", "application/octet-stream")
                found.append((field.name, chosen))
            else:
                found.append((field.name, _current(field)))
        return [(_crlf(name), _crlf_value(value)) for name, value in found]

    def submit(
        self,
        button: str | tuple[str, str] | None = None,
        *,
        client: Client | None = None,
        headers: dict[str, str] | None = None,
        follow_redirects: bool = False,
    ) -> Any:
        """Send the form as if ``button`` were pressed (see :meth:`submitter`)
        through ``client`` (default: the one that fetched the page), and
        return its answer. The action is resolved against the page's URL; a
        POST carries the page's ``Origin`` like a browser's. ValueError for
        a form that leaves the app or a method a form cannot have.
        """
        if client is None:
            client = self.client
        if client is None:
            raise ValueError("this form came from no client: pass client=")
        pressed = self.submitter(button)
        attributes = pressed.attributes if pressed is not None else {}
        method = attributes.get("formmethod", self.method).upper()
        action = attributes.get("formaction", self.action)
        enctype = attributes.get("formenctype", self.enctype).lower()
        if method not in ("GET", "POST"):
            raise ValueError(f"a form cannot be submitted with method {method!r}")
        path, query = _resolve(client.host, self.url, action)
        entries = self._entries(pressed)
        extra = dict(headers or {})
        if method == "GET":
            pairs = [(name, _as_text(value)) for name, value in entries]
            target = path + "?" + urllib.parse.urlencode(pairs)
            return client.request(
                "GET", target, headers=extra, follow_redirects=follow_redirects
            )
        extra.setdefault("origin", f"http://{client.host}")
        target = path + (f"?{query}" if query else "")
        if enctype == MULTIPART:
            boundary = "kali-form-" + secrets.token_hex(12)
            body = encode_multipart_entries(entries, boundary)
            kind = f"{MULTIPART}; boundary={boundary}"
        elif enctype == TEXT_PLAIN:
            text = "".join(f"{n}={_as_text(v)}\r\n" for n, v in entries)
            body, kind = text.encode("utf-8"), f"{TEXT_PLAIN}; charset=utf-8"
        else:
            pairs = [(name, _as_text(value)) for name, value in entries]
            body, kind = urllib.parse.urlencode(pairs).encode("ascii"), URLENCODED
        return client.request(
            "POST",
            target,
            headers=extra,
            body=body,
            content_type=kind,
            follow_redirects=follow_redirects,
        )


# -- changing fields -------------------------------------------------------------


def _current(field: Field) -> Any:
    if field.type == "select":
        chosen = [option.value for option in _chosen(field)]
        if field.multiple:
            return chosen
        return chosen[0] if chosen else None
    if field.type == "file":
        return field.upload
    return field.value


def _chosen(field: Field) -> list[Option]:
    return [o for o in field.options if o.selected and not o.disabled]


def _as_text(value: str | Upload) -> str:
    # Without multipart, a browser sends a file field's file name only.
    return value if isinstance(value, str) else value[0]


def _text(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        raise TypeError(f"field {name!r} takes text, not {value!r}")
    if isinstance(value, (int, float, decimal.Decimal, datetime.date, datetime.time)):
        return str(value)
    raise TypeError(f"field {name!r} takes text, not {type(value).__name__}")


def _values(name: str, value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_text(name, item) for item in value]
    return [_text(name, value)]


def _check_boxes(name: str, fields: list[Field], value: Any) -> None:
    if isinstance(value, bool) or value is None:
        if len(fields) > 1 and value:
            raise TypeError(
                f"{len(fields)} checkboxes are called {name!r}: give the list of "
                "values to check"
            )
        for field in fields:
            field.checked = bool(value)
        return
    wanted = _values(name, value)
    known = [f.value for f in fields]
    unknown = [item for item in wanted if item not in known]
    if unknown:
        raise ValueError(f"no checkbox {name!r} has the value {unknown[0]!r}: {known}")
    for field in fields:
        field.checked = field.value in wanted


def _check_radio(name: str, fields: list[Field], value: Any) -> None:
    if value is None:
        for field in fields:
            field.checked = False
        return
    wanted = _text(name, value)
    known = [f.value for f in fields]
    if wanted not in known:
        raise ValueError(f"no radio button {name!r} has the value {wanted!r}: {known}")
    for field in fields:
        field.checked = field.value == wanted


def _set_one(field: Field, value: Any) -> None:
    name = field.name
    if field.type == "select":
        wanted = _values(name, value) if field.multiple else [_text(name, value)]
        known = {o.value: o for o in field.options}
        for item in wanted:
            if item not in known:
                choices = [o.value for o in field.options]
                raise ValueError(f"select {name!r} has no option {item!r}: {choices}")
            if known[item].disabled:
                raise ValueError(f"option {item!r} of {name!r} is disabled")
        for option in field.options:
            option.selected = option.value in wanted
    elif field.type == "file":
        field.upload = None if value is None else _upload(name, value)
    else:
        field.value = _text(name, value)


def _upload(name: str, value: Any) -> Upload:
    if (
        isinstance(value, tuple)
        and len(value) in (2, 3)
        and isinstance(value[0], str)
        and isinstance(value[1], (bytes, str))
        and (len(value) == 2 or isinstance(value[2], str))
    ):
        if len(value) == 2:
            return (value[0], value[1], "application/octet-stream")
        return (value[0], value[1], value[2])
    raise TypeError(
        f"file field {name!r} takes (filename, bytes[, content_type]), not {value!r}"
    )


# -- encoding -----------------------------------------------------------------------


def _crlf(text: str) -> str:
    # HTML: every entry's newlines are sent as CRLF, whatever the page had.
    return _NEWLINES.sub("\r\n", text)


def _crlf_value(value: str | Upload) -> str | Upload:
    return _crlf(value) if isinstance(value, str) else value


def _quote_param(value: str) -> str:
    # WHATWG HTML form submission escapes these three in multipart names.
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def encode_multipart_entries(
    entries: Iterable[tuple[str, str | bytes | Upload]], boundary: str
) -> bytes:
    """A ``multipart/form-data`` body of ``entries`` in their order, as a
    browser encodes it: a value is text (UTF-8) or bytes (as they are), or an
    upload (a file without a type is ``application/octet-stream``)."""
    out: list[str | bytes] = []
    for name, value in entries:
        disposition = f'form-data; name="{_quote_param(name)}"'
        if isinstance(value, (str, bytes)):
            out.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n")
            out.append(value)
        else:
            kind = value[2] if len(value) > 2 else "application/octet-stream"  # type: ignore[misc]
            out.append(
                f"--{boundary}\r\nContent-Disposition: {disposition}; "
                f'filename="{_quote_param(value[0])}"\r\nContent-Type: {kind}\r\n\r\n'
            )
            content = value[1]
            out.append(content.encode("utf-8") if isinstance(content, str) else content)
        out.append(b"\r\n")
    out.append(f"--{boundary}--\r\n")
    return b"".join(
        part.encode("utf-8") if isinstance(part, str) else part for part in out
    )


def _resolve(host: str, page_url: str, action: str) -> tuple[str, str]:
    """``(path, query)`` of ``action`` seen from ``page_url`` on ``host``."""
    base = f"http://{host}{page_url}"
    url = urllib.parse.urlsplit(urllib.parse.urljoin(base, action.strip()))
    if url.scheme not in ("http", "https") or url.netloc.lower() != host.lower():
        raise ValueError(f"the form's action {action!r} leaves the app")
    return url.path or "/", url.query


def parse_forms(text: str, url: str = "/", client: Any = None) -> list[Form]:
    """Every ``<form>`` of the HTML ``text``, in order. ``url`` is the page's
    path and query (for relative actions); ``client`` submits them."""
    return [
        Form(parsed.attributes, url, client, parsed.fields)
        for parsed in parse_html_forms(text)
    ]
