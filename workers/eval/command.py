"""`callwright eval`: run simulated callers against an agent and report how it did.

    callwright eval                                   # every scenario in tests/eval/scenarios
    callwright eval tests/eval/scenarios/appointment_scheduler --brain openai --json
    callwright eval appt-three-facts-at-once --verbose
    callwright eval --min-completion 0.95 --min-accuracy 0.95     # a CI gate
    callwright eval --audio tests/eval/scenarios/restaurant_reservations   # by phone audio,
                                                     # against `callwright dev` (its brain)

Exit status: 0 when every scenario ended as it expects (or, with thresholds, when goal completion
and field accuracy reach them), 1 otherwise, 2 for a scenario or agent that cannot run.
The report goes to stdout (`--json` for scripts); logs go to stderr.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer
from rich.console import Console

from core.settings import BrainName, Settings
from workers.stack import local_settings

if TYPE_CHECKING:
    from workers.eval.cases import EvalCase
    from workers.eval.report import EvalReport

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
        BrainName | None,
        typer.Option(
            "--brain",
            help="guided, or openai (LLM_BASE_URL, LLM_MODEL…) [default: guided]; "
            "with --audio the stack's own BRAIN answers",
        ),
    ] = None,
    audio: Annotated[
        bool,
        typer.Option(
            "--audio",
            help="Call a running stack by phone audio (Twilio's protocol, Piper, Whisper)",
        ),
    ] = False,
    api_url: Annotated[
        str | None,
        typer.Option(help="--audio: the stack's API [default: the dev stack's]"),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="CALLWRIGHT_API_KEY", help="--audio: an admin key [default: the dev stack's]"
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="--audio: the dev stack's folder [default: CALLWRIGHT_DATA_DIR]"),
    ] = None,
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

    try:
        settings = local_settings()  # development unless CALLWRIGHT_ENV says otherwise
    except ValueError as exc:
        _errors.print(f"[red]configuration error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    try:
        cases = load_cases(resolve_scenarios(scenarios or []), agent_file=agent)
    except ScenarioError as exc:
        _errors.print(f"[red]cannot run:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if not cases:
        _errors.print("[red]no scenarios found[/red]")
        raise typer.Exit(2)
    try:
        if audio:
            if brain is not None:
                raise ValueError("with --audio the stack's brain answers: start it with BRAIN=…")
            report = asyncio.run(_run_audio(cases, settings, api_url, api_key, data_dir))
        else:
            report = asyncio.run(
                run_text_eval(cases, brain or BrainName.GUIDED, settings, concurrency=concurrency)
            )
    except ValueError as exc:  # e.g. BRAIN=openai without an endpoint, no stack
        _errors.print(f"[red]cannot run:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(report.as_dict(transcripts=verbose), indent=2, default=str))
    else:
        typer.echo(report.render(verbose=verbose))
    ok = report.met(min_completion=min_completion, min_accuracy=min_accuracy)
    raise typer.Exit(0 if ok else 1)


async def _run_audio(
    cases: list[EvalCase],
    settings: Settings,
    api_url: str | None,
    api_key: str | None,
    data_dir: Path | None,
) -> EvalReport:
    """The audio run against the stack the options (or the dev stack's folder) point at."""
    from workers.eval.audio import Stack, run_audio_eval
    from workers.stack import DEV_KEY_FILE, read_stack_info

    folder = data_dir or settings.data_dir
    info = read_stack_info(folder)
    url = api_url or (info.api_url if info is not None else None)
    if url is None:
        raise ValueError(f"no running stack in {folder}: start `callwright dev` or pass --api-url")
    if api_key is None:
        try:
            api_key = (folder / DEV_KEY_FILE).read_text().strip()
        except OSError:
            raise ValueError("no API key: pass --api-key (or start `callwright dev`)") from None
    stack = Stack(
        api_url=url,
        api_key=api_key,
        auth_token=settings.twilio_auth_token.get_secret_value(),
        public_base_url=settings.public_base_url or url,
        today=settings.today,
    )
    return await run_audio_eval(cases, stack, brain=settings.brain.value)


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
