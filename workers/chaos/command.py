"""The `python -m workers.chaos` command line: options, the run, the table, RELIABILITY.md and
the exit status (0: every call came through whole; 1: something was lost; 2: the stack did not
start, or the options were wrong). What a run does is `run`'s docstring.

    .venv/bin/python -m workers.chaos [--calls 3] [--faults realtime-kill9,api-kill9] \\
        [--markdown RELIABILITY.md] [--data-dir DIR] [--scenario FILE]… [--down 5] [--drain 3]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from rich.console import Console

from workers.chaos.faults import fault_names, parse_faults
from workers.chaos.report import chaos_section, render, write_section
from workers.chaos.run import (
    DEFAULT_DOWN_S,
    DEFAULT_DRAIN_S,
    DEFAULT_SCENARIOS,
    REPO_ROOT,
    ChaosOptions,
    run_chaos,
)
from workers.services import PortBusyError, ServiceError

__all__ = ["command_line", "main"]


def command_line(options: ChaosOptions, markdown: Path | None) -> str:
    """The command that reproduces a run, as the report quotes it."""
    command = f"python -m workers.chaos --calls {options.calls}"
    if [f.name for f in options.faults] != [f.name for f in parse_faults(None)]:
        command += f" --faults {fault_names(options.faults)}"
    if tuple(options.scenarios) != DEFAULT_SCENARIOS:
        command += "".join(f" --scenario {_shown(path)}" for path in options.scenarios)
    if options.down_s != DEFAULT_DOWN_S:
        command += f" --down {options.down_s:g}"
    if options.drain_s != DEFAULT_DRAIN_S:
        command += f" --drain {options.drain_s:g}"
    if markdown is not None:
        command += f" --markdown {markdown}"
    return command


def _shown(path: Path) -> str:
    """`path` as typed from the repository's root, where it lies inside it."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m workers.chaos",
        description="Calls in flight through crashes and deploys, measured (RELIABILITY.md).",
    )
    parser.add_argument("--calls", type=int, default=3, help="calls at once per fault (3)")
    parser.add_argument(
        "--faults",
        default="",
        help=f"comma-separated, in order (all: {fault_names(parse_faults(None))})",
    )
    parser.add_argument("--markdown", type=Path, help="write the '## Chaos' section here")
    parser.add_argument(
        "--data-dir", type=Path, help="the stack's state and logs (a new or empty folder; kept)"
    )
    parser.add_argument(
        "--scenario", type=Path, action="append", help="a scenario file (repeatable)"
    )
    parser.add_argument(
        "--down", type=float, default=DEFAULT_DOWN_S, help="seconds a killed part stays down"
    )
    parser.add_argument(
        "--drain", type=float, default=DEFAULT_DRAIN_S, help="REALTIME_DRAIN_S of the nodes"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `python -m workers.chaos`."""
    args = _arguments(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("workers.chaos").setLevel(logging.INFO)
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    try:
        faults = parse_faults(args.faults)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        _exit(2)
    if args.calls < 1:
        console.print("[red]--calls must be at least 1[/red]")
        _exit(2)
    options = ChaosOptions(
        calls=args.calls,
        faults=faults,
        scenarios=tuple(args.scenario or DEFAULT_SCENARIOS),
        down_s=args.down,
        drain_s=args.drain,
    )
    if args.data_dir is not None and args.data_dir.exists() and any(args.data_dir.iterdir()):
        console.print(f"[red]{args.data_dir} is not empty: give a new or empty folder[/red]")
        _exit(2)
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="callwright-chaos-"))
    try:
        results = asyncio.run(run_chaos(options, data_dir, console))
    except (ServiceError, PortBusyError) as exc:
        console.print(f"[red]the stack did not start or broke down:[/red] {exc}")
        console.print(f"logs: {data_dir / 'logs'}")
        _exit(2)
    render(results, console)
    ok = all(r.ok for r in results)
    if args.markdown is not None:
        section = chaos_section(
            results,
            command=command_line(options, args.markdown),
            calls=options.calls,
            cores=os.cpu_count(),
            when=dt.date.today(),
            down_s=options.down_s,
            drain_s=options.drain_s,
        )
        write_section(args.markdown, section)
        console.print(f"wrote the '## Chaos' section of {args.markdown}")
    if ok and args.data_dir is None:
        shutil.rmtree(data_dir, ignore_errors=True)
    else:
        console.print(f"the stack's logs: {data_dir / 'logs'}")
    _exit(0 if ok else 1)


def _exit(code: int) -> NoReturn:
    # temporalio can crash at interpreter exit after all work is done (sdk-python#300).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
