"""The deadlines of one connection (:class:`Timeouts`) and the clock that
holds a transfer to a minimum data rate (:class:`Pace`).

A single-threaded server serves one connection at a time, so every wait on a
client is time every other client waits too. The policy, in short:

* a connection that sends nothing is closed without a reply (on Linux, one
  that reaches ``accept()`` with no data has already been silent for the whole
  TCP_DEFER_ACCEPT period and is closed at once);
* the request head must come quickly, with short gaps (408 otherwise);
* a body, and a response, may pause only so long (``body_gap``,
  ``send_stall``), and after a short grace period must keep up a minimum
  average rate: a transfer may take its grace plus its bytes at that rate,
  never longer (as Kestrel's MinRequestBodyDataRate and MinResponseDataRate).
  The allowance grows with the bytes that really moved, never with a length
  the client merely declared.

Only time spent waiting on the client counts against a rate: not the app
producing a stream, nor the disk.

Rules: pure values and arithmetic. This module touches no socket and imports
nothing of kali; ``kali.connection`` does the waiting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

MIB = 1024 * 1024


@dataclass(frozen=True)
class Timeouts:
    """Deadlines, in seconds, and minimum data rates, in bytes per second,
    that keep one client from holding the loop. ValueError for a negative
    value."""

    #: Silence this long after accept() means a browser pre-connection: close
    #: it without a reply. (The ``timeout`` argument of serve_http.) Not used
    #: where TCP_DEFER_ACCEPT is on (Linux): there a connection with nothing
    #: to read at accept() is closed at once.
    first_packet: float = 0.5
    #: Longest silence between two packets of the request head; then 408.
    #: The pieces of one head follow each other within milliseconds (0.3 s
    #: still covers one TCP retransmission, 200 ms at least on Linux), and a
    #: head that stalls costs the loop this long: 20 of them, 6 s.
    head_gap: float = 0.3
    #: The whole head must arrive within this long; then 408.
    head_total: float = 2.0
    #: Longest silence between two packets of the body; then 408.
    body_gap: float = 2.0
    #: After this long, the body must have come at ``body_min_bytes_per_second``
    #: on average: it may take ``body_grace + received / rate`` seconds of
    #: waiting in all. A POST head with no body behind it costs this long.
    body_grace: float = 1.0
    #: 1 MiB/s: loopback carries hundreds of MB/s, so an honest browser is
    #: never near it, while a client trickling bytes is cut after the grace.
    #: 0 turns the rate off (the gap alone applies). Lower it for uploads
    #: over a slow network link (a LAN address, ``allowed_hosts``).
    body_min_bytes_per_second: float = MIB
    #: Sending may make no progress for this long before the connection is
    #: dropped (a client that stopped reading).
    send_stall: float = 5.0
    #: After this long spent waiting for the client to take the response,
    #: it must have read at ``send_min_bytes_per_second`` on average;
    #: otherwise the connection is aborted and logged as truncated.
    send_grace: float = 2.0
    #: 1 MiB/s: a browser on this machine reads hundreds of MB/s; a reader
    #: slower than this holds the loop for its grace plus its bytes at this
    #: rate at most (a 100 MB file read at 500 KB/s is cut after ~10 s).
    #: 0 turns the rate off (``send_stall`` alone applies).
    send_min_bytes_per_second: float = MIB
    #: After an early answer (413, 403...), read and discard what the client
    #: is still sending for up to this long / this many bytes, so it gets the
    #: answer instead of a connection reset. (Not after a 408: a client that
    #: ran out of time gets its answer without more waiting.)
    drain_seconds: float = 1.0
    drain_bytes: int = 4 * MIB

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise TypeError(f"Timeouts.{field.name} must be a number: {value!r}")
            if not value >= 0:  # also refuses NaN
                raise ValueError(f"Timeouts.{field.name} must be >= 0: {value!r}")


class Pace:
    """How long a transfer may still wait for its client.

    ``allowance(gap)`` is the longest the next wait may last: ``gap``, or
    less once the transfer is due by its minimum rate; 0 or less when its
    time is up. ``record(count, seconds)`` counts the bytes a call moved and
    the time it waited. A transfer may wait ``grace + moved / rate`` seconds
    in all, so no client holds the loop longer than its grace period plus
    its data at the minimum rate.
    """

    __slots__ = ("grace", "bytes_per_second", "moved", "waited")

    def __init__(self, grace: float, bytes_per_second: float) -> None:
        self.grace = grace
        self.bytes_per_second = bytes_per_second
        #: Bytes transferred so far (a response's head included).
        self.moved = 0
        #: Seconds spent waiting on the client so far.
        self.waited = 0.0

    def __repr__(self) -> str:
        return (
            f"Pace(moved={self.moved}, waited={self.waited:.3f}, "
            f"left={self.left():.3f})"
        )

    def left(self) -> float:
        """Seconds of waiting the rate still allows (inf without a rate)."""
        if self.bytes_per_second <= 0:
            return math.inf
        return self.grace + self.moved / self.bytes_per_second - self.waited

    def allowance(self, gap: float) -> float:
        """The longest the next wait may last (0 or less: time is up)."""
        return min(gap, self.left())

    def record(self, count: int, seconds: float) -> None:
        self.moved += count
        self.waited += seconds

    def describe(self, gap: float, wait: float) -> str:
        """Why a wait of ``wait`` seconds that found no progress ends the
        transfer: the gap, or the rate."""
        if wait >= gap:
            return f"no progress for {gap:g} s"
        return (
            f"slower than {self.bytes_per_second:g} bytes/s after "
            f"{self.grace:g} s ({self.moved} bytes in {self.waited:.1f} s of waiting)"
        )
