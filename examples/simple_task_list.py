"""A simple task list: a servlet, a service, and forms written by hand.

This example is a tiny but complete application: a list of things to do,
where you can add a task, tick it off, rename it and throw it away. Run it::

    ./demo.sh simple_task_list

It shows the two class-based ways to publish functionality with a Router:

* a **servlet** is a class with a ``do_GET`` and/or ``do_POST`` method. kali
  makes a fresh instance for every request, so instances are cheap and
  forgetful; the data lives elsewhere (here, in a plain list).

* a **service** is a class that serves a whole (virtual) folder: a request
  for ``/task/3/rename`` calls ``do_GET_rename`` or ``do_POST_rename`` on an
  instance made with the wildcard values from the path, here ``('3',)``.

The forms are written by hand, to show that there is no magic: an HTML form
posts its fields, the handler reads ``request.POST``, and answers with a
redirect, so that pressing "reload" in the browser never posts twice (the
Post/Redirect/Get pattern). ``kali.forms`` can do the busywork for you once
you have seen how it goes.

Templates escape whatever you put in ``{name}``, so a task called
``<script>`` is shown as text, not run.
"""

import logging

import kali
from kali import HTTPError, Response, Router, Servlet, Template, run_app

PAGE = Template(
    """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
  body {font-family: sans-serif; max-width: 40em; margin: 2em auto}
  li.done span {text-decoration: line-through; color: gray}
  form.inline {display: inline}
  .error {color: #b00}
</style></head>
<body><h1>{title}</h1>
{.content}
</body></html>
"""
)

# The main list, with the form to add a task at the bottom. Notice that the
# form gets back whatever the user typed, plus a message, when it is wrong.
TASK_LIST = Template(
    """<ul>{.items}</ul>
<form method="post" action="/">
  <label>New task: <input name="title" value="{title}" autofocus></label>
  <button>Add</button> <span class="error">{error}</span>
</form>
"""
)

TASK = Template(
    """<li class="{state}"><span>{title}</span>
  <form class="inline" method="post" action="/task/{id}/toggle">
    <button>{toggle}</button></form>
  <a href="/task/{id}/rename">rename</a>
  <form class="inline" method="post" action="/task/{id}/delete">
    <button>delete</button></form>
</li>
"""
)

RENAME = Template(
    """<form method="post" action="/task/{id}/rename">
  <input name="title" value="{title}" autofocus>
  <button>Save</button> <a href="/">cancel</a>
  <span class="error">{error}</span>
</form>
"""
)


class Task:
    """One thing to do. The example keeps tasks in memory; a real
    application would keep them in SQLite."""

    def __init__(self, id: int, title: str) -> None:
        self.id, self.title, self.done = id, title, False


def make_app() -> Router:
    """Build the application. Everything it knows lives in this function's
    ``tasks`` list, so each call makes a fresh, independent app (handy for
    tests)."""
    tasks = [Task(1, "Try kali"), Task(2, "Write a local app")]
    router = Router()

    def find(task_id: str) -> Task:
        # Wildcards arrive as text. A URL naming no task is a 404, and
        # raising HTTPError from anywhere in a handler says exactly that.
        for task in tasks:
            if str(task.id) == task_id:
                return task
        raise HTTPError(404, "There is no such task.")

    def show_list(title: str = "", error: str = "") -> object:
        items = [
            TASK(
                id=task.id,
                title=task.title,
                state="done" if task.done else "",
                toggle="undo" if task.done else "done",
            )
            for task in tasks
        ]
        content = TASK_LIST(items=items, title=title, error=error)
        return PAGE(title="Things to do", content=content)

    # The servlet: GET shows the list, POST adds a task. Mounted at "/",
    # so "/" is the only URL it answers; any other method gets a 405.
    @router.servlet("/")
    class TaskListPage(Servlet):
        def do_GET(self, request: kali.Request) -> object:
            return show_list()

        def do_POST(self, request: kali.Request) -> object:
            title = request.POST.get("title", "").strip()
            if not title:
                return show_list(title, "A task needs a title.")
            tasks.append(Task(max((t.id for t in tasks), default=0) + 1, title))
            return Response.redirect("/")

    # The service: everything you can do to one task, under /task/<id>/.
    # The "*" becomes the constructor's argument.
    @router.service("/task/*/")
    class TaskActions:
        def __init__(self, task_id: str) -> None:
            self.task = find(task_id)

        def do_POST_toggle(self, request: kali.Request) -> object:
            self.task.done = not self.task.done
            return Response.redirect("/")

        def do_POST_delete(self, request: kali.Request) -> object:
            tasks.remove(self.task)
            return Response.redirect("/")

        def do_GET_rename(self, request: kali.Request) -> object:
            form = RENAME(id=self.task.id, title=self.task.title, error="")
            return PAGE(title="Rename a task", content=form)

        def do_POST_rename(self, request: kali.Request) -> object:
            title = request.POST.get("title", "").strip()
            if not title:
                form = RENAME(
                    id=self.task.id, title=title, error="A task needs a title."
                )
                return PAGE(title="Rename a task", content=form)
            self.task.title = title
            return Response.redirect("/")

    return router


if __name__ == "__main__":
    # Show each request on the console, then serve the app and open the
    # browser at it. Ctrl-C stops the server.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    run_app(make_app(), description="A simple task list.")
