"""Duckling runs in a child process of its own: it survives that child's death, and the child
does not outlive its parent."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time

from core.fields.entities import _duckling, entities

TODAY = dt.date(2026, 12, 1)


def _times(text: str) -> list[str]:
    return [e.body for e in entities(text, TODAY, ["time"])]


def test_a_killed_parser_process_is_replaced_and_the_next_read_works() -> None:
    assert _times("see you at half past four") == ["at half past four"]
    for pid in list(_duckling()._pool._processes):  # noqa: SLF001 - the child is the subject
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    assert _times("see you at half past four") == ["at half past four"]


def test_the_parser_process_dies_with_its_parent() -> None:
    script = textwrap.dedent(
        """
        import datetime, os, sys, time
        from core.fields.entities import _duckling, entities
        entities("at noon", datetime.date(2026, 12, 1), ["time"])
        print(*_duckling()._pool._processes, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    assert parent.stdout is not None
    (child,) = (int(pid) for pid in parent.stdout.readline().split())
    parent.send_signal(signal.SIGKILL)  # a crash: no cleanup runs
    parent.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead but not yet reaped by its (new) parent.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False
