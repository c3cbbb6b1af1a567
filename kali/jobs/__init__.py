"""kali.jobs: long work off the loop, its results on it.

A single-threaded server that imports a big file inside a request freezes
every tab until it ends. A job runs that work in a worker thread (or a child
process, for CPU-bound work), while the loop goes on answering requests; the
handler that started it answers at once with a redirect to the job's page,
whose progress bar updates itself.

The one rule: only the loop thread touches the app's state (the SQLite
connection, sessions). A job gets plain values and reports progress; what it
produces is handed to the loop, where the app's callbacks save it. See
:class:`Jobs` (in ``kali.jobs.scheduler``), :class:`Progress` and
:class:`Job` (``kali.jobs.state``), the pages (``kali.jobs.pages``) and
where a job runs, a thread or a process (``kali.jobs.workers``).

This package sits in the app layer: it imports the request and response
modules, never the server (it reaches the loop only through the
``call_soon`` of the object given to :meth:`Jobs.attach`).
"""

from .scheduler import Jobs, Loop
from .state import Cancelled, Job, JobError, Progress

__all__ = ["Cancelled", "Job", "JobError", "Jobs", "Loop", "Progress"]
