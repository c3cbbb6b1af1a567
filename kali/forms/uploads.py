"""The file upload element: hands the application the uploaded file.

See :mod:`kali.forms.elements` for the element contract. The uploaded file is
whatever the request's form parser made of the file part (kali's
:class:`~kali.formdata.FileUpload`); this module only reads its
``filename``, ``content_type`` and ``size`` (or ``content``), so it needs no
import from the HTTP layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .elements import Attributes, FormElement, make_attributes, merge_attributes
from .lenses import ValidationError
from .widgets import tag

__all__ = ["Upload", "upload_size"]


def _format_bytes(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


class Upload(FormElement):
    """``<input type="file">``: the native value is the uploaded file, or ``None``.

    The native value is the object the request's form parser made (in kali,
    a :class:`~kali.formdata.FileUpload`: ``filename``, ``content_type``,
    ``content``, and ``save(destination)``). Its ``filename`` is whatever the
    browser sent: show it, but never use it as a path.

    ``required`` is the message when no file is chosen. ``max_bytes`` limits
    the size; ``content_types`` (such as ``"image/*"`` or
    ``"application/pdf"``) and ``extensions`` (such as ``".csv"``) limit the
    kind. Both kinds of limit are also put into the ``accept`` attribute.
    They catch mistakes; they prove nothing about the content, which the
    browser labels from the file name.

    A browser never lets a page pre-fill a file input, so when a form comes
    back with an error the user has to choose the file again (every other
    field keeps its input). The form must be sent with
    ``enctype="multipart/form-data"``; without it the browser sends only the
    file name, and this element reports that as an error.
    """

    needs_multipart = True

    def __init__(
        self,
        *,
        required: str = "",
        max_bytes: int | None = None,
        content_types: Sequence[str] = (),
        extensions: Sequence[str] = (),
        label: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.required = required
        self.max_bytes = max_bytes
        self.content_types = tuple(t.strip().lower() for t in content_types)
        self.extensions = tuple(
            e.lower() if e.startswith(".") else "." + e.lower() for e in extensions
        )
        self.label = label
        self.attributes = make_attributes(kwargs)
        accept = self.content_types + self.extensions
        if accept:
            self.attributes.setdefault("accept", ",".join(accept))

    def to_text(self, native: Any) -> Any:
        return None

    def from_form(self, name: str, form: Any) -> Any:
        return form.get(name)

    def render_parts(
        self, name: str, intermediate: Any, attributes: Attributes | None = None
    ) -> tuple[Any, Any]:
        own = {"type": "file", **self._id(name), **self.attributes, "name": name}
        control = tag("input", merge_attributes(own, attributes or {}), None)
        return self.render_label(name), control

    def is_required(self) -> bool:
        return bool(self.required)

    def _is_type_allowed(self, content_type: str) -> bool:
        media_type = content_type.partition(";")[0].strip().lower()
        for allowed in self.content_types:
            if allowed.endswith("/*"):
                if media_type.startswith(allowed[:-1]):
                    return True
            elif media_type == allowed:
                return True
        return False

    def to_native(self, intermediate: Any) -> Any:
        upload = intermediate
        if isinstance(upload, str):
            if upload:
                raise ValidationError(
                    "arrived without its content: the form needs"
                    ' enctype="multipart/form-data".'
                )
            upload = None
        size = 0 if upload is None else upload_size(upload)
        if upload is None or (not upload.filename and not size):
            # An empty part without a file name is what browsers send when
            # no file was chosen.
            if self.required:
                raise ValidationError(self.required)
            return None
        if self.max_bytes is not None and size > self.max_bytes:
            raise ValidationError(
                f"is too large (at most {_format_bytes(self.max_bytes)})."
            )
        content_type = str(upload.content_type or "")
        if self.content_types and not self._is_type_allowed(content_type):
            raise ValidationError(
                f"must be a file of type {', '.join(self.content_types)}."
            )
        filename = str(upload.filename).lower()
        if self.extensions and not filename.endswith(self.extensions):
            raise ValidationError(
                f"must be a file ending in {', '.join(self.extensions)}."
            )
        return upload


def upload_size(upload: Any) -> int:
    """The size in bytes of an uploaded file, without reading a spooled one."""
    size = getattr(upload, "size", None)
    if isinstance(size, int):
        return size
    return len(upload.content)
