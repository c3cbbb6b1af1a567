"""Serving static content: a folder of files, safely, with one line of code.

Sometimes all you need is to show some files to a browser: a folder of
pictures, some HTML you wrote by hand, the output of a report. This example
serves the folder it lives in (the ``examples`` folder), so run it and have
a look at the other examples' source code in your browser::

    ./demo.sh static_content

The whole trick is one line: a ``StaticFolder`` is a handler, and the router
mounts it with ``delegate_folder``. kali takes care of the details you would
rather not think about: content types, caching (ETag and 304 Not Modified),
byte ranges so that audio and video can seek, and above all never letting a
crafted URL reach a file outside the folder.

(If that is all you need, ``python -m kali SOME_FOLDER`` does the same from
the command line, no code at all.)
"""

import logging
import os

import kali
from kali import run_app

# The folder this file sits in. Any folder will do.
EXAMPLES = os.path.dirname(os.path.abspath(__file__))


def make_app(folder: str = EXAMPLES) -> kali.Router:
    """Build the application: a router with one static folder at the root."""
    router = kali.Router()

    # Mount the folder at "/". A request for "/" gets a listing of the folder,
    # "/static_content.py" gets this very file (as text/x-python, UTF-8), and
    # "/../secrets.txt" gets nothing but a 404. Names that start with "." or
    # "_" (think ".git" or "__pycache__") are private: 403 Forbidden.
    router.delegate_folder("/", kali.StaticFolder(folder))

    # Want an index.html instead of a listing? StaticFolder(folder,
    # index="index.html") serves it whenever a folder has one.
    return router


if __name__ == "__main__":
    # kali logs through the standard logging module; show each request.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    # Open the browser at the listing, and serve until you press Ctrl-C.
    run_app(make_app(), description="Serving a folder of files, safely.")
