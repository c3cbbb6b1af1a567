"""kali.templates.loader: TemplateFolder files, inheritance, loops, names, errors."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable

import pytest

from kali.iolist import Fragment, flatten
from kali.templates import (
    MissingNameError,
    SubAssembly,
    Template,
    TemplateFolder,
    TemplateLoop,
    TemplateSyntaxError,
)

Files = dict[str, "str | bytes"]


@pytest.fixture
def make_folder(tmp_path: pathlib.Path) -> Callable[..., TemplateFolder]:
    """make_folder({'name.tpl': text, 'sub/x.tpl': bytes}, '.tpl', strict=...)"""

    def make(
        files: Files, extension: str | None = ".tpl", **options: object
    ) -> TemplateFolder:
        for name, content in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, str):
                content = content.encode("utf-8")
            path.write_bytes(content)
        return TemplateFolder(tmp_path, extension, **options)  # type: ignore[arg-type]

    return make


def render(template: object, **params: object) -> bytes:
    assert isinstance(template, (Template, SubAssembly))
    return flatten(template(**params))


def syntax_error(folder: TemplateFolder, name: str) -> TemplateSyntaxError:
    with pytest.raises(TemplateSyntaxError) as caught:
        folder(name)
    return caught.value


# -- the folder --------------------------------------------------------------------


def test_path_must_be_a_directory(tmp_path):
    (tmp_path / "file").write_text("x")
    for path in (tmp_path / "file", tmp_path / "missing"):
        with pytest.raises(ValueError, match="needs a directory"):
            TemplateFolder(path)
    assert TemplateFolder(str(tmp_path)).folder == tmp_path


def test_plain_template_is_left_stripped_only(make_folder):
    folder = make_folder({"page.tpl": "\n\n  <p>{x}</p>\n"})
    template = folder("page")
    assert isinstance(template, Template)
    assert render(template, x="<") == b"<p>&lt;</p>\n"


def test_cached_by_name_until_invalidated(make_folder):
    folder = make_folder({"page.tpl": "one"})
    first = folder("page")
    assert folder("page") is first
    folder.invalidate_cache()
    second = folder("page")
    assert second is not first
    assert folder("page") is second


def test_wrap_reloads_before_each_request(make_folder, tmp_path):
    folder = make_folder({"page.tpl": "one"})
    seen: list[bytes] = []

    def handler(request: object) -> Fragment:
        seen.append(flatten(folder("page")()))
        return Fragment([request])

    wrapped = folder.wrap(handler)
    assert wrapped("request") == ["request"]
    (tmp_path / "page.tpl").write_text("two")
    wrapped("again")
    assert seen == [b"one", b"two"]


def test_wrap_lets_exceptions_through_unchanged(make_folder):
    folder = make_folder({})
    problem = RuntimeError("handler failed")

    def handler(request: object) -> None:
        raise problem

    with pytest.raises(RuntimeError) as caught:
        folder.wrap(handler)("request")
    assert caught.value is problem


def test_missing_file(make_folder):
    with pytest.raises(FileNotFoundError):
        make_folder({})("nope")


def test_sub_folders_and_extensions(make_folder):
    folder = make_folder({"sub/deep/page.tpl": "deep", "plain": "no ext"})
    assert render(folder("sub/deep/page")) == b"deep"
    assert render(make_folder({}, extension=None)("plain")) == b"no ext"
    assert make_folder({}, extension="").extension == ""


@pytest.mark.parametrize(
    "name",
    [
        "",
        "/etc/passwd",
        "../secret",
        "sub/../../secret",
        "..",
        "sub\\page",
        "page\0",
        "C:page",
        "c:/windows/page",
        "page:stream",
    ],
)
def test_names_that_could_leave_the_folder_are_refused(make_folder, name):
    with pytest.raises(ValueError, match="not a template name"):
        make_folder({"page.tpl": "x"})(name)


def test_names_must_be_strs(make_folder):
    with pytest.raises(TypeError):
        make_folder({})(b"page")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_symlinks_out_of_the_folder_are_refused(make_folder, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "secret.tpl"
    outside.write_text("secret")
    folder = make_folder({"inside.tpl": "inside"})
    try:
        (folder.folder / "link.tpl").symlink_to(outside)
        (folder.folder / "alias.tpl").symlink_to(folder.folder / "inside.tpl")
    except OSError:  # pragma: no cover - e.g. Windows without privileges
        pytest.skip("cannot create symlinks here")
    with pytest.raises(ValueError, match="resolves outside"):
        folder("link")
    assert render(folder("alias")) == b"inside"


def test_files_are_utf8_and_a_bom_is_ignored(make_folder):
    folder = make_folder(
        {"bom.tpl": "\ufeff<p>é {x}</p>".encode(), "crlf.tpl": b"a\r\nb\rc"}
    )
    assert render(folder("bom"), x="\u2603") == "<p>é \u2603</p>".encode()
    assert render(folder("crlf")) == b"a\nb\nc"


def test_invalid_utf8_names_the_line(make_folder):
    error = syntax_error(make_folder({"bad.tpl": b"ok\nok\n\xff"}), "bad")
    assert error.lineno == 3
    assert "not valid UTF-8" in error.message
    assert isinstance(error.__cause__, UnicodeDecodeError)


def test_a_syntax_error_in_a_plain_file_names_its_line(make_folder):
    error = syntax_error(make_folder({"p.tpl": "\n\n  x\n {@rows}"}), "p")
    assert (error.lineno, error.column) == (4, 2)
    assert error.filename.endswith("p.tpl")
    assert f"{error.filename}:4:2: " in str(error)


# -- <extend> ----------------------------------------------------------------------

BASE = """<html><title>{title}</title>
<body>{.body}</body><footer>{footer}</footer></html>
"""
LAYOUT = """<extend>base
<?title?>Site: {title}
<?body?><main>{.body}</main>
</extend>
"""
PAGE = """<extend>
  layout
<?title?> Orders of {user}
<?body?>
<table>{@orders}<tr><td>{id}</td><td>{price:cents}</td></tr>{^orders}none{/orders}</table>
"""


def test_inheritance_over_three_levels(make_folder):
    folder = make_folder({"base.tpl": BASE, "layout.tpl": LAYOUT, "page.tpl": PAGE})
    page = folder("page")
    assert isinstance(page, SubAssembly)
    orders = [{"id": 1, "price": 1234.5}, {"id": "<2>", "price": 3}]
    assert render(page, user="<Ann>", orders=orders, footer="&") == (
        b"<html><title>Site: Orders of &lt;Ann&gt;</title>\n"
        b"<body><main><table><tr><td>1</td><td>1,234.50</td></tr>"
        b"<tr><td>&lt;2&gt;</td><td>3.00</td></tr></table></main></body>"
        b"<footer>&amp;</footer></html>\n"
    )
    assert folder("layout") is page.base  # the base came from the same cache


def test_extend_allows_whitespace_after_the_closing_tag(make_folder):
    folder = make_folder({"b.tpl": "[{x}]", "e.tpl": "  <extend>b<?x?>1</extend> \n\n"})
    assert render(folder("e")) == b"[1]"


def test_extend_without_bindings(make_folder):
    folder = make_folder({"b.tpl": "[{x}]", "e.tpl": "<extend> b </extend>"})
    assert render(folder("e"), x=2) == b"[2]"


def test_text_after_closing_extend(make_folder):
    folder = make_folder({"b.tpl": "", "e.tpl": "<extend>b<?x?>1</extend>\n\n  oops"})
    error = syntax_error(folder, "e")
    assert (error.lineno, error.column) == (3, 3)
    assert "expected nothing after </extend>" in error.message


def test_empty_base_name(make_folder):
    error = syntax_error(make_folder({"e.tpl": "\n<extend>\n<?x?>1"}), "e")
    assert error.lineno == 2
    assert "expected the name of the base template" in error.message


@pytest.mark.parametrize(
    ("files", "lineno"),
    [
        ({"a.tpl": "<extend>\n\na"}, 3),
        ({"a.tpl": "<extend>b", "b.tpl": "<extend>\nc", "c.tpl": "<extend>a"}, 1),
    ],
)
def test_inheritance_cycles(make_folder, files, lineno):
    error = syntax_error(make_folder(files), "a")
    assert "cycle" in error.message
    assert error.lineno == lineno


def test_a_cycle_leaves_the_folder_usable(make_folder):
    folder = make_folder({"a.tpl": "<extend>a", "ok.tpl": "fine"})
    syntax_error(folder, "a")
    assert render(folder("ok")) == b"fine"
    syntax_error(folder, "a")


def test_a_climbing_base_name(make_folder):
    error = syntax_error(make_folder({"e.tpl": "<extend>../x"}), "e")
    assert isinstance(error, ValueError)
    assert "not a template name" in error.message


def test_a_missing_base_names_the_file_and_line(make_folder):
    with pytest.raises(FileNotFoundError) as caught:
        make_folder({"e.tpl": "\n<extend> gone"})("e")
    note = caught.value.__notes__[-1]  # type: ignore[attr-defined]
    assert note.endswith("e.tpl, line 2, column 10: <extend>gone")


def test_cannot_extend_a_loop_file(make_folder):
    files = {"l.tpl": "<loop><?begin?>x", "e.tpl": "<extend>l"}
    assert "is a <loop> file" in syntax_error(make_folder(files), "e").message


def test_syntax_error_in_a_section_names_the_file_line(make_folder):
    files = {"b.tpl": "{x}", "e.tpl": "<extend>b\n<?x?>\n  ok {@rows}\n"}
    error = syntax_error(make_folder(files), "e")
    assert (error.lineno, error.column) == (3, 6)
    assert "{@rows} is never closed" in error.message


def test_sections_may_be_named_anything_and_the_last_wins(make_folder):
    files = {"b.tpl": "{x}", "e.tpl": "<extend>b<?x?>1<?x?>2<?other thing?>3"}
    assembly = make_folder(files)("e")
    assert set(assembly.bindings) == {"x", "other thing"}
    assert render(assembly) == b"2"


# -- <loop> --------------------------------------------------------------------------

LOOP = """<loop><ul>
<?begin?>
    <li>{name}</li>
<?end?></ul>
<?else?><p>No {what}.</p>
</loop>
"""


def test_loop_file(make_folder):
    loop = make_folder({"list.tpl": LOOP})("list")
    assert isinstance(loop, TemplateLoop)
    assert flatten(loop.loop([{"name": "<a>"}, {"name": "b"}])) == (
        b"<ul><li>&lt;a&gt;</li><li>b</li></ul>"
    )
    assert flatten(loop.loop([], {"what": "items"})) == b"<p>No items.</p>"


def test_loop_file_with_only_begin(make_folder):
    loop = make_folder({"l.tpl": "<loop><?begin?>{x},"})("l")
    assert flatten(loop.loop([{"x": 1}, {"x": 2}])) == b"1,2,"
    assert loop.otherwise is None
    assert loop.loop([]) == ()


def test_loop_file_with_an_empty_else(make_folder):
    loop = make_folder({"l.tpl": "<loop>[<?begin?>x<?end?>]<?else?>  \n</loop>"})("l")
    assert loop.otherwise is None
    assert flatten(loop.loop([{}])) == b"[x]"


def test_loop_file_missing_begin(make_folder):
    error = syntax_error(make_folder({"l.tpl": "\n\n <loop>a<?end?>b"}), "l")
    assert (error.lineno, error.column) == (3, 2)
    assert "expected a <?begin?> section" in error.message


def test_loop_file_unknown_section(make_folder):
    error = syntax_error(
        make_folder({"l.tpl": "<loop>\n<?begin?>x\n  <?middle?>"}), "l"
    )
    assert (error.lineno, error.column) == (3, 3)
    assert "unknown section <?middle?>" in error.message


def test_loop_file_text_after_closing_tag(make_folder):
    error = syntax_error(make_folder({"l.tpl": "<loop><?begin?>x</loop>\n!"}), "l")
    assert (error.lineno, error.column) == (2, 1)
    assert "expected nothing after </loop>" in error.message


def test_loop_file_closing_tag_is_measured_correctly(make_folder):
    # 0.0.8 measured </loop> with the length of </extend>; two characters
    # after </loop> were never checked.
    error = syntax_error(make_folder({"l.tpl": "<loop><?begin?>x</loop>ab"}), "l")
    assert "expected nothing after </loop>" in error.message


def test_loop_sections_may_use_inline_loops(make_folder):
    files = {"l.tpl": "<loop><table><?begin?><tr>{@cells:c}<td>{c}</td>{/cells}</tr>"}
    loop = make_folder(files)("l")
    assert flatten(loop.loop([{"cells": [1, "<"]}])) == (
        b"<table><tr><td>1</td><td>&lt;</td></tr>"
    )


# -- conditionals in files -------------------------------------------------------

CONDITIONAL_PAGE = """<extend>base
<?title?>{?user}Orders of {user}{:else}Orders{/user}
<?body?>
{?orders}<table>{@orders}<tr><td>{id}</td><td>{?paid}paid{:else}due{/paid}</td></tr>{/orders}</table>
{:else}<p>No orders.</p>{/orders}
"""


def test_conditionals_in_extend_files(make_folder):
    folder = make_folder({"base.tpl": BASE, "page.tpl": CONDITIONAL_PAGE})
    page = folder("page")
    orders = [{"id": 1, "paid": True}, {"id": 2, "paid": 0}]
    assert render(page, user="<A>", orders=orders, footer=None) == (
        b"<html><title>Orders of &lt;A&gt;</title>\n<body><table>"
        b"<tr><td>1</td><td>paid</td></tr><tr><td>2</td><td>due</td></tr>"
        b"</table>\n</body><footer></footer></html>\n"
    )
    assert render(page, user=None, orders=[], footer=None) == (
        b"<html><title>Orders</title>\n<body><p>No orders.</p></body>"
        b"<footer></footer></html>\n"
    )


def test_conditionals_in_loop_files(make_folder):
    text = "<loop><ul><?begin?><li>{name}{!done} (to do){/done}</li><?end?></ul>"
    loop = make_folder({"l.tpl": text})("l")
    rows = [{"name": "a", "done": True}, {"name": "b", "done": False}]
    assert flatten(loop.loop(rows)) == b"<ul><li>a</li><li>b (to do)</li></ul>"


def test_a_bad_section_in_a_file_names_file_line_column(make_folder):
    files = {"b.tpl": "{x}", "e.tpl": "<extend>b\n<?x?>\n  {?a}{@r}{/a}{/r}\n"}
    error = syntax_error(make_folder(files), "e")
    assert (error.lineno, error.column) == (3, 11)
    assert error.filename.endswith("e.tpl")
    assert "expected {^r} or {/r} to match {@r} (line 3), found {/a}" in str(error)
    error = syntax_error(make_folder({"p.tpl": "\n{?a}\n{:else}"}), "p")
    assert (error.lineno, error.column) == (2, 1)
    assert "{?a} is never closed" in error.message


# -- strict mode -------------------------------------------------------------------


def test_folders_are_strict_under_pytest(make_folder):
    folder = make_folder({"page.tpl": "\n<h1>{title}</h1>\n  <p>{titel}</p>"})
    with pytest.raises(MissingNameError) as caught:
        folder("page")(title="T")
    error = caught.value
    path = str(folder.folder / "page.tpl")
    assert str(error).startswith(f"{path}:3:6: {{titel}}: ")
    assert "'titel'" in str(error) and "did you mean 'title'?" in str(error)
    assert (error.filename, error.lineno, error.column) == (path, 3, 6)
    assert render(folder("page"), title="T", titel=None) == b"<h1>T</h1>\n  <p></p>"


def test_strict_none_follows_the_environment(make_folder, monkeypatch):
    folder = make_folder({"page.tpl": "[{x}{?y}y{/y}]"})
    assert folder.strict is None
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    monkeypatch.delenv("KALI_DEBUG", raising=False)
    assert render(folder("page")) == b"[{x}]"
    monkeypatch.setenv("KALI_DEBUG", "1")
    with pytest.raises(MissingNameError, match="'x'"):
        folder("page")()  # the same cached template: checked at render time


def test_strict_true_and_false(make_folder, monkeypatch):
    files = {"page.tpl": "[{x}]"}
    assert render(make_folder(files, strict=False)("page")) == b"[{x}]"
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    with pytest.raises(MissingNameError):
        make_folder(files, strict=True)("page")()


def test_strict_must_be_a_bool_or_none(tmp_path):
    with pytest.raises(TypeError, match="strict must be"):
        TemplateFolder(tmp_path, strict=1)  # type: ignore[arg-type]


def test_strict_mode_in_an_extend_section_names_the_childs_line(make_folder):
    files = {"base.tpl": BASE, "page.tpl": "<extend>base\n<?title?>\n Hi {usr}"}
    page = make_folder(files)("page")
    with pytest.raises(MissingNameError) as caught:
        page(user="u", body="", footer="")
    assert (caught.value.lineno, caught.value.column) == (3, 5)
    assert caught.value.filename.endswith("page.tpl")
    with pytest.raises(MissingNameError) as caught:
        page(usr="u", body="")  # the base's {footer}
    assert caught.value.filename.endswith("base.tpl")
    assert caught.value.name == "footer"


def test_strict_mode_in_a_loop_file(make_folder):
    loop = make_folder({"l.tpl": "<loop><ul><?begin?><li>{nam}</li>"})("l")
    with pytest.raises(MissingNameError, match=r"l\.tpl:1:24: \{nam\}"):
        loop.loop([{"name": "a"}])
    assert flatten(loop.loop([{"name": "a"}], {"nam": 1})) == b"<ul><li>1</li>"


# -- formatters --------------------------------------------------------------------


def money(value: object) -> str:
    return f"${value}"


def test_folder_formatters(make_folder):
    files = {
        "base.tpl": "<p>{price:money}</p>{.body}",
        "page.tpl": "<extend>base<?body?>{price:num} {price:cents} {price:money}",
        "l.tpl": "<loop><?begin?>{p:money}<?else?>{p:money}",
    }
    folder = make_folder(files, formatters={"money": money})
    assert folder.formatters == {":money": money}
    assert render(folder("page"), price=1234) == b"<p>$1234</p>1,234 1,234.00 $1234"
    loop = folder("l")
    assert flatten(loop.loop([{"p": 1}, {"p": "<"}])) == b"$1$&lt;"
    assert flatten(loop.loop([], {"p": 2})) == b"$2"


def test_folder_formatters_come_before_the_registry(make_folder, monkeypatch):
    monkeypatch.setitem(Template.REGISTRY, ":money", str.upper)
    files = {"p.tpl": "{x:money} {x:shout}"}
    monkeypatch.setitem(Template.REGISTRY, ":shout", str.upper)
    folder = make_folder(files, formatters={":money": money})
    assert render(folder("p"), x="a") == b"$a A"


@pytest.mark.parametrize("strict", [None, False, True])
def test_an_unknown_formatter_is_a_syntax_error_in_a_folder(make_folder, strict):
    files = {"b.tpl": "{x}", "p.tpl": "<extend>b\n<?x?>\n  {price:mony}"}
    folder = make_folder(files, formatters={"money": money}, strict=strict)
    error = syntax_error(folder, "p")
    assert (error.lineno, error.column) == (3, 3)
    assert "unknown formatter ':mony' in {price:mony}" in error.message
    assert ":money" in error.message and ":num" in error.message
    error = syntax_error(make_folder({"css.tpl": "p{color:red}"}), "css")
    assert "unknown formatter ':red'" in error.message
    assert render(make_folder({"css.tpl": "p{ color:red}"})("css")) == (
        b"p{ color:red}"
    )


def test_bad_formatters_are_refused_at_construction(tmp_path):
    with pytest.raises(ValueError, match="formatter name"):
        TemplateFolder(tmp_path, formatters={"a-b": money})
    with pytest.raises(TypeError, match="must be callable"):
        TemplateFolder(tmp_path, formatters={"money": "$"})  # type: ignore[dict-item]
