"""An upload folder: files saved under names of its own, in step with SQLite.

::

    from kali.uploadfolder import UploadFolder

    files = UploadFolder(data_folder / "attachments")

    def attach(request):                       # inside the transaction guard
        upload = request.POST["file"]          # a kali FileUpload
        name = files.save(upload, db)          # on the disk, flushed, before...
        db.execute("INSERT INTO attachment (contact_id, filename, stored_name)"
                   " VALUES (?, ?, ?)", [contact_id, upload.filename, name])
        db.commit()                            # ...the row that names it
        ...

    def remove(request):
        files.delete(row["stored_name"], db)   # gone once the DELETE commits
        db.execute("DELETE FROM attachment WHERE id = ?", [row["id"]])
        db.commit()

The folder chooses every name: 32 random hex digits and, when the client's
file name has one from the folder's list of known types, its extension
(``3f9c…e1.pdf``). The client's name is never used as a path; keep it in
your row for showing and as the download name.

**In step with the database.** ``save(upload, db)`` writes the file and
flushes it and its folder entry to the disk before it returns, so the row
that names it can be committed after. The file then belongs to ``db``'s
transaction (:meth:`kali.sqlite.Connection.on_rollback`): when that rolls
back (the handler raised, forgot to commit, or rolled back itself), the
file is removed again. ``delete(name, db)`` waits for the commit
(:meth:`~kali.sqlite.Connection.on_commit`): a delete that rolls back keeps
its file. A crash can leave a file no row names, never a row without its
file. Without a connection, ``save`` and ``delete`` act at once.

**Serving.** :meth:`UploadFolder.serve` answers a file by its name with a
type from the folder's own table, never the one the client sent, and
:meth:`UploadFolder.handler` mounts that on a router. Only names this
folder makes are accepted (anything else is a 404), so no path can leave
the folder. Size limits are the form's job.

This module must not parse requests or decide who may see a file: check
that in your handler before calling ``serve``.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Protocol

from .downloads import content_disposition
from .errors import HTTPError
from .outcome import Connection
from .request import Request
from .response import Response
from .routing import Handler

__all__ = ["SAFE_TYPES", "UploadFolder"]

#: Extensions kept on saved files, and the type each is served with. No
#: type a browser would run (HTML, SVG, XML, JavaScript) is in it.
SAFE_TYPES: Mapping[str, str] = {
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png",
    "gif": "image/gif", "webp": "image/webp", "avif": "image/avif",
    "bmp": "image/bmp", "tif": "image/tiff", "tiff": "image/tiff",
    "heic": "image/heic", "pdf": "application/pdf",
    "txt": "text/plain; charset=utf-8", "csv": "text/csv; charset=utf-8",
    "md": "text/markdown; charset=utf-8", "json": "application/json",
    "ics": "text/calendar", "vcf": "text/vcard", "eml": "message/rfc822",
    "rtf": "application/rtf", "doc": "application/msword",
    "xls": "application/vnd.ms-excel", "ppt": "application/vnd.ms-powerpoint",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "epub": "application/epub+zip", "zip": "application/zip",
    "gz": "application/gzip", "7z": "application/x-7z-compressed",
    "tar": "application/x-tar", "mp3": "audio/mpeg", "m4a": "audio/mp4",
    "ogg": "audio/ogg", "wav": "audio/wav", "flac": "audio/flac",
    "mp4": "video/mp4", "webm": "video/webm", "mov": "video/quicktime",
}  # fmt: skip

#: Types a browser may show in the page instead of downloading them.
_INLINE_PREFIXES = ("image/", "audio/", "video/", "text/plain", "application/pdf")
_EXTENSION = re.compile(r"[a-z0-9]{1,10}\Z")
_NAME = re.compile(r"[0-9a-f]{32}(?:\.[a-z0-9]{1,10})?\Z")


class Upload(Protocol):
    """What :meth:`UploadFolder.save` needs: a FileUpload has both."""

    @property
    def filename(self) -> str: ...

    def save(self, destination: Any) -> None: ...


def _sync_folder(folder: Path) -> None:
    """Flush the folder's entries, so a new name survives a power cut."""
    if os.name == "nt":  # folders cannot be opened for fsync; NTFS logs them
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


class UploadFolder:
    """Files saved under fresh random names in the folder ``path`` (created
    with its parents unless ``create=False``; then FileNotFoundError if it
    is missing). ``types`` maps extensions (lower case, no dot) to the
    content type they are served with; default :data:`SAFE_TYPES`."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        types: Mapping[str, str] | None = None,
        create: bool = True,
    ) -> None:
        self.path = Path(path)
        if create:
            self.path.mkdir(parents=True, exist_ok=True)
        elif not self.path.is_dir():
            raise FileNotFoundError(f"no folder {self.path}")
        self.types = dict(SAFE_TYPES if types is None else types)
        for extension in self.types:
            if not _EXTENSION.match(extension):
                raise ValueError(f"an extension is 1-10 of a-z, 0-9: {extension!r}")

    def __repr__(self) -> str:
        return f"<UploadFolder {str(self.path)!r}>"

    # -- names ------------------------------------------------------------------------

    def is_name(self, name: object) -> bool:
        """Is ``name`` one this folder could have made?"""
        return isinstance(name, str) and _NAME.match(name) is not None

    def path_of(self, name: str) -> Path:
        """The path of the file ``name``; ValueError for a name this folder
        would never make (so nothing outside the folder can be named)."""
        if not self.is_name(name):
            raise ValueError(f"not a name from an UploadFolder: {name!r}")
        return self.path / name

    def exists(self, name: str) -> bool:
        """Is there a file ``name`` (False for a name the folder never makes)?"""
        return self.is_name(name) and (self.path / name).is_file()

    def content_type(self, name: str) -> str:
        """The type ``name`` is served with, by its extension."""
        _, dot, extension = name.rpartition(".")
        return self.types.get(extension if dot else "", "application/octet-stream")

    def _extension(self, client_name: str) -> str:
        last = re.split(r"[\\/]", client_name or "")[-1]
        extension = os.path.splitext(last)[1][1:].lower()
        return "." + extension if extension in self.types else ""

    # -- saving and deleting ----------------------------------------------------------

    def save(self, upload: Upload, connection: Connection | None = None) -> str:
        """Write ``upload`` under a fresh name, flushed to the disk, and
        return the name. With ``connection`` (a :class:`kali.sqlite.Connection`)
        the file belongs to its transaction (one is begun if none is open)
        and is removed if that rolls back. TypeError for another connection
        type; OSError if the file cannot be written (nothing is left)."""
        if connection is not None and not isinstance(connection, Connection):
            raise TypeError("save() needs a connection from kali.sqlite.connect()")
        extension = self._extension(str(getattr(upload, "filename", "") or ""))
        while True:
            name = secrets.token_hex(16) + extension
            path = self.path / name
            try:
                file: IO[bytes] = open(path, "xb")  # noqa: SIM115 - closed below
            except FileExistsError:  # 128 random bits: in theory only
                continue
            break
        try:
            with file:
                upload.save(file)
                file.flush()
                os.fsync(file.fileno())
            _sync_folder(self.path)
            if connection is not None:
                connection.on_rollback(functools.partial(_remove, path))
        except BaseException:
            _remove(path)
            raise
        return name

    def delete(self, name: str, connection: Connection | None = None) -> None:
        """Remove the file ``name`` (no error if it is gone already). With
        ``connection``, only once its current transaction commits (one is
        begun if none is open): a rollback keeps the file. ValueError for a
        name this folder never makes."""
        path = self.path_of(name)
        if connection is None:
            _remove(path)
        elif not isinstance(connection, Connection):
            raise TypeError("delete() needs a connection from kali.sqlite.connect()")
        else:
            connection.on_commit(functools.partial(_remove, path))

    # -- serving ----------------------------------------------------------------------

    def serve(self, name: str, *, download_name: str | None = None) -> Response:
        """The file ``name`` as a response, streamed from the disk, typed by
        its extension. With ``download_name`` it is a download under that
        name; without, images, audio, video, PDF and plain text may show in
        the browser and other types download under ``name``. HTTPError(404)
        for a name the folder never makes or a missing file."""
        if not self.exists(name):
            raise HTTPError(404, "There is no such file.")
        content_type = self.content_type(name)
        if download_name is None and content_type.startswith(_INLINE_PREFIXES):
            headers = None
        else:
            headers = {
                "content-disposition": content_disposition(download_name or name)
            }
        try:
            return Response.file(
                self.path / name, content_type=content_type, headers=headers
            )
        except FileNotFoundError:  # deleted just now
            raise HTTPError(404, "There is no such file.") from None

    def handler(self) -> Handler:
        """A handler serving ``GET <mount>/<name>``:
        ``router.delegate('/files', folder.handler())``. Anyone who knows a
        name can fetch it: mount it only where every file may be seen, and
        use :meth:`serve` in your own handler otherwise."""

        def serve_upload(request: Request) -> Response:
            if request.command not in ("GET", "HEAD"):
                raise HTTPError(405, headers={"allow": "GET, HEAD"})
            suffix = request.path_suffix()
            if len(suffix) != 1:
                raise HTTPError(404, "There is no such file.")
            return self.serve(suffix[0])

        return serve_upload
