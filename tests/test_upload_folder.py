"""kali.uploadfolder.UploadFolder: files that follow their transaction, and
are served back only by the names the folder made."""

import logging
import sqlite3

import pytest

from kali import Response, Router
from kali.formdata import FileUpload
from kali.sqlite import TransactionGuard, connect
from kali.testing import Client
from kali.uploadfolder import UploadFolder


@pytest.fixture
def db(tmp_path):
    connection = connect(tmp_path / "files.db")
    connection.execute(
        "CREATE TABLE attachment (id INTEGER PRIMARY KEY, filename TEXT,"
        " stored_name TEXT NOT NULL)"
    )
    connection.commit()
    yield connection
    connection.close()


@pytest.fixture
def folder(tmp_path):
    return UploadFolder(tmp_path / "uploads" / "nested")


def stored(folder):
    return sorted(path.name for path in folder.path.iterdir())


def make_app(db, folder):
    """/attach/<how> saves a posted file; /delete/<id>/<how> deletes one."""
    guard = TransactionGuard(db)
    router = Router()

    def attach(request):
        how = request.path[-1]
        upload = request.POST["file"]
        name = folder.save(upload, db)
        if how == "before-crash":
            raise RuntimeError("failed before the row")
        db.execute(
            "INSERT INTO attachment (filename, stored_name) VALUES (?, ?)",
            [upload.filename, name],
        )
        if how == "crash":
            raise RuntimeError("failed after the row")
        if how == "rollback":
            db.rollback()
        elif how != "forget":
            db.commit()
        return Response.redirect("/")

    def delete(request):
        number, how = request.path[-2], request.path[-1]
        row = db.execute("SELECT * FROM attachment WHERE id = ?", [number]).fetchone()
        folder.delete(row["stored_name"], db)
        db.execute("DELETE FROM attachment WHERE id = ?", [number])
        if how == "crash":
            raise RuntimeError("failed")
        db.commit()
        return Response.redirect("/")

    router.delegate("/attach/*", attach)
    router.delegate("/delete/*/*", delete)
    router.delegate("/files", folder.handler())
    return guard.wrap(router)


@pytest.fixture
def client(db, folder, caplog):
    caplog.set_level(logging.CRITICAL, logger="kali")  # the 500s are expected
    return Client(make_app(db, folder))


def post_file(client, how, name="Photo 1.JPG", content=b"\xff\xd8 jpeg bytes"):
    return client.post(f"/attach/{how}", files={"file": (name, content, "image/jpeg")})


def test_a_committed_save_keeps_the_file_under_a_fresh_name(client, db, folder):
    assert post_file(client, "commit").status == 302
    row = db.execute("SELECT * FROM attachment").fetchone()
    assert row["filename"] == "Photo 1.JPG"
    assert stored(folder) == [row["stored_name"]]
    assert row["stored_name"].endswith(".jpg") and len(row["stored_name"]) == 36
    assert (folder.path / row["stored_name"]).read_bytes() == b"\xff\xd8 jpeg bytes"
    assert db.waiting == 0


@pytest.mark.parametrize(
    "how, status",
    [("before-crash", 500), ("crash", 500), ("forget", 500), ("rollback", 302)],
)
def test_a_save_whose_transaction_rolls_back_is_removed(
    client, db, folder, how, status
):
    assert post_file(client, how).status == status
    assert db.execute("SELECT count(*) FROM attachment").fetchone()[0] == 0
    assert stored(folder) == []


def test_delete_waits_for_the_commit(client, db, folder):
    post_file(client, "commit")
    name = db.execute("SELECT stored_name FROM attachment").fetchone()[0]
    assert client.post("/delete/1/crash").status == 500
    assert stored(folder) == [name]  # rolled back: the row and the file stay
    assert db.execute("SELECT count(*) FROM attachment").fetchone()[0] == 1
    assert client.post("/delete/1/commit").status == 302
    assert stored(folder) == []


def test_files_are_served_by_their_names_only(client, db, folder):
    post_file(client, "commit", name="scan.pdf", content=b"%PDF-1.7")
    name = db.execute("SELECT stored_name FROM attachment").fetchone()[0]
    answer = client.get(f"/files/{name}")
    assert answer.status == 200 and answer.body == b"%PDF-1.7"
    assert answer.headers["content-type"] == "application/pdf"
    assert "content-disposition" not in answer.headers  # shown in the browser
    (folder.path.parent / "secret.txt").write_text("secret")
    for bad in ["../secret.txt", "%2e%2e/secret.txt"]:
        answer = client.get(f"/files/{bad}")  # the router redirects or refuses
        assert answer.status in (302, 404) and b"secret" not in answer.body
    for bad in ["secret.txt", name.upper(), name + "/x", "0" * 32 + ".pdf"]:
        assert client.get(f"/files/{bad}").status == 404, bad
    assert client.post(f"/files/{name}").status == 405


def test_a_name_from_the_client_never_becomes_a_path(db, folder, tmp_path):
    hostile = FileUpload("../../evil.html", "text/html", b"<script>")
    name = folder.save(hostile)
    assert stored(folder) == [name] and "." not in name  # html is not kept
    served = folder.serve(name)
    assert served.get_header("content-type") == "application/octet-stream"
    assert "attachment" in served.get_header("content-disposition")
    served.close()


def test_serve_with_a_download_name(folder):
    name = folder.save(FileUpload("notes.txt", "text/plain", b"hello"))
    answer = folder.serve(name, download_name="Notizen März.txt")
    assert answer.get_header("content-type") == "text/plain; charset=utf-8"
    assert "filename*=UTF-8''Notizen%20M%C3%A4rz.txt" in answer.get_header(
        "content-disposition"
    )
    assert answer.body == b"hello"
    answer.close()


def test_without_a_connection_save_and_delete_act_at_once(folder):
    name = folder.save(FileUpload("a.PNG", "image/png", b"png"))
    assert name.endswith(".png") and folder.exists(name)
    folder.delete(name)
    folder.delete(name)  # already gone: fine
    assert not folder.exists(name)


def test_a_failed_write_leaves_nothing(folder):
    class Broken:
        filename = "x.txt"

        def save(self, destination):
            destination.write(b"half")
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        folder.save(Broken())
    assert stored(folder) == []


def test_a_plain_sqlite3_connection_is_refused(folder, tmp_path):
    plain = sqlite3.connect(tmp_path / "plain.db")
    try:
        with pytest.raises(TypeError, match="kali.sqlite.connect"):
            folder.save(FileUpload("a.txt", "text/plain", b"x"), plain)
        with pytest.raises(TypeError):
            folder.delete("0" * 32, plain)
    finally:
        plain.close()


def test_names_are_checked(folder):
    for bad in ["../x", "", "g" * 32, "0" * 32 + ".PDF", None]:
        assert not folder.is_name(bad)
        assert not folder.exists(bad)
    with pytest.raises(ValueError):
        folder.delete("../x")
    with pytest.raises(ValueError):
        folder.path_of("/etc/passwd")


def test_extensions_follow_the_folder_types(tmp_path):
    custom = UploadFolder(tmp_path / "c", types={"dat": "application/x-data"})
    name = custom.save(FileUpload("C:\\Users\\me\\x.DAT", "x", b"1"))
    assert name.endswith(".dat") and custom.content_type(name) == "application/x-data"
    assert "." not in custom.save(FileUpload("x.pdf", "x", b"1"))
    with pytest.raises(ValueError):
        UploadFolder(tmp_path / "d", types={".pdf": "application/pdf"})
    with pytest.raises(FileNotFoundError):
        UploadFolder(tmp_path / "missing", create=False)


def test_the_file_and_its_folder_reach_the_disk_before_the_row_commits(
    db, folder, monkeypatch
):
    """Durability: with synchronous=FULL the row survives a power cut once
    committed, so the file it names must be on the disk before."""
    import os
    import stat

    events = []
    real_fsync = os.fsync

    def fsync(descriptor):
        real_fsync(descriptor)
        is_folder = stat.S_ISDIR(os.fstat(descriptor).st_mode)
        events.append("fsync folder" if is_folder else "fsync file")

    monkeypatch.setattr(os, "fsync", fsync)
    db.set_trace_callback(lambda sql: events.append(sql.split()[0].upper()))
    try:
        name = folder.save(FileUpload("a.txt", "text/plain", b"x" * 70_000), db)
        db.execute(
            "INSERT INTO attachment (filename, stored_name) VALUES ('a.txt', ?)",
            [name],
        )
        db.commit()
    finally:
        db.set_trace_callback(None)
    assert (folder.path / name).stat().st_size == 70_000
    commit = events.index("COMMIT")
    assert events.index("fsync file") < commit
    if os.name == "posix":
        assert events.index("fsync folder") < commit
