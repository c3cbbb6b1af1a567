"""The README's first quick-start command, as CI can run it: start
``./demo.sh intro --no-browser --port 0``, wait for the URL it prints, fetch
that first page (it must be a 200), then stop the demo with Ctrl-C (SIGINT)
and expect a clean exit without a traceback. Run from the repository root;
exit status 1 on any failure. Only 127.0.0.1 is contacted."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request


def main() -> int:
    command = ["./demo.sh", "intro", "--no-browser", "--port", "0"]
    demo = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert demo.stdout is not None
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert demo.stdout is not None
        for line in demo.stdout:
            lines.append(line)
            if re.search(r"http://127\.0\.0\.1:\d+", line):
                found.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not found.wait(30):
            print("the demo printed no URL within 30 s:", *lines, sep="\n")
            return 1
        url = re.search(r"http://127\.0\.0\.1:\d+/?", "".join(lines))
        assert url is not None
        started = time.monotonic()
        with urllib.request.urlopen(url.group(0), timeout=10) as page:
            body = page.read()
            if page.status != 200 or b"<" not in body:
                print(f"first page: {page.status}, {len(body)} bytes")
                return 1
        print(f"{' '.join(command)}: {url.group(0)} answered 200 "
              f"({len(body)} bytes, {1000 * (time.monotonic() - started):.0f} ms)")  # fmt: skip
        demo.send_signal(signal.SIGINT)
        code = demo.wait(15)
        reader.join(5)
        output = "".join(lines)
        if code != 0 or "Traceback" in output:
            print(f"the demo stopped with status {code}:\n{output}")
            return 1
        print("stopped cleanly on Ctrl-C")
        return 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()


if __name__ == "__main__":
    sys.exit(main())
