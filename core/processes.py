"""Child processes die with their parent: one rule for the servers `callwright dev` starts and
for the helper processes a realtime node starts itself (Duckling's parser).

Linux's `PR_SET_PDEATHSIG` makes the kernel signal a child when the thread that started it
dies, so a `kill -9` of the parent leaves nothing running behind it. Other systems have no such
call; there an orderly stop is the only guard.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(sig: signal.Signals, parent: int) -> None:
    """Called in a child (a pool's initializer): get `sig` when `parent` dies."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(sig))
        # The parent may have died before the call; then no signal would ever come.
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)


def die_with_parent_hook(sig: signal.Signals) -> Callable[[], None] | None:
    """A `preexec_fn` for a new child so that it gets `sig` when its parent dies; None where the
    system cannot do that."""
    if not sys.platform.startswith("linux"):
        return None
    # Resolved in the parent: between fork and exec the child must only make the call.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def die_with_this_parent() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig))
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)

    return die_with_this_parent
