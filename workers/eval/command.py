"""`callwright eval`: run simulated callers against an agent and report how it did.

    callwright eval                                   # every scenario in tests/eval/scenarios
    callwright eval tests/eval/scenarios/appointment_scheduler --brain openai --json
    callwright eval appt-three-facts-at-once --verbose
    callwright eval --min-completion 0.95 --min-accuracy 0.95     # a CI gate

Exit status: 0 when every scenario ended as it expects (or, with thresholds, when goal completion
and field accuracy reach them), 1 otherwise, 2 for a scenario or agent that cannot run.
The report goes to stdout (`--json` for scripts); logs go to stderr.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Console

from core.settings import BrainName, get_settings

__all__ = ["eval_command"]

DEFAULT_SCENARIOS: Final = Path("tests/eval/scenarios")
_errors = Console(stderr=True)


def eval_command(
    scenarios: Annotated[
        list[str] | None,
        typer.Argument(
            help="Scenario files, folders of them, or scenario ids [default: tests/eval/scenarios]"
        ),
    ] = None,
    agent: Annotated[
        Path | None,
        typer.Option(
            "--agent",
            exists=True,
            dir_okay=False,
            help="Run every scenario against this agent document instead of its own",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    brain: Annotated[
        BrainName, typer.Option("--brain", help="guided, or openai (LLM_BASE_URL, LLM_MODEL…)")
    ] = BrainName.GUIDED,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show every call's transcript")
    ] = False,
    min_completion: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Pass when goal completion is at least this"),
    ] = None,
    min_accuracy: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Pass when field accuracy is at least this"),
    ] = None,
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Calls at once (for LLM brains)")
    ] = 1,
) -> None:
    """Run simulated callers against agents; report goal completion, field accuracy, turns."""
    from workers.eval.cases import load_cases
    from workers.eval.scenario import ScenarioError
    from workers.eval.suite import run_text_eval

    settings = get_settings()
    try:
        cases = load_cases(resolve_scenarios(scenarios or []), agent_file=agent)
    except ScenarioError as exc:
        _errors.print(f"[red]cannot run:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if not cases:
        _errors.print("[red]no scenarios found[/red]")
        raise typer.Exit(2)
    try:
        report = asyncio.run(run_text_eval(cases, brain, settings, concurrency=concurrency))
    except ValueError as exc:  # e.g. BRAIN=openai without an endpoint
        _errors.print(f"[red]cannot run:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(report.as_dict(transcripts=verbose), indent=2, default=str))
    else:
        typer.echo(report.render(verbose=verbose))
    ok = report.met(min_completion=min_completion, min_accuracy=min_accuracy)
    raise typer.Exit(0 if ok else 1)


def resolve_scenarios(arguments: list[str]) -> list[Path]:
    """Paths for the command's arguments: files and folders as given, ids looked up in the
    default folder; no arguments means the default folder."""
    if not arguments:
        return [DEFAULT_SCENARIOS]
    paths: list[Path] = []
    for argument in arguments:
        path = Path(argument)
        if path.exists():
            paths.append(path)
            continue
        found = sorted(DEFAULT_SCENARIOS.rglob(f"{argument}.y*ml"))
        if not found:
            _errors.print(f"[red]cannot run:[/red] {argument}: no such file, folder or scenario id")
            raise typer.Exit(2)
        paths += found
    return paths
