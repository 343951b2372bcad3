"""Known vulnerabilities in the locked dependencies, from PyPI's advisory data (`make audit`).

    python -m workers.audit requirements.lock requirements-cpu.lock requirements-dev.lock

PyPI publishes the advisories (OSV records from the PyPA advisory database) that affect a
release in its JSON API. pip-audit reads them per release (`/pypi/NAME/VERSION/json`); the
machines this project builds and tests on reach PyPI only through a proxy that answers 404 for
that address (checked), so pip-audit reports every package as "not found" there. What they do
reach is the project document (`/pypi/NAME/json`), which carries the advisories of the newest
release. From it:

- a pin that is the newest release is checked exactly: any advisory listed fails the audit;
- a pin behind the newest release fails on every advisory that still affects the newest (it
  cannot be fixed for us if it is not fixed there), and it is listed as behind: advisories fixed
  between our pin and the newest cannot be seen from here, which is why `make lock` keeps the
  pins at the newest releases the resolver allows and this report names every one that is not.

When PyPI cannot be reached (after retries), the audit fails and says so: it never passes on
data it did not get. `AUDIT_IGNORE=ID,ID` accepts named advisories (say why in the Makefile).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

PYPI_JSON: Final = "https://pypi.org/pypi/{name}/json"
TIMEOUT_S: Final = 15.0
TRIES: Final = 4
BACKOFF_S: Final = 2.0
WORKERS: Final = 8
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


class UnreachableError(Exception):
    """PyPI did not answer for a package after every try."""


@dataclass
class Finding:
    """What PyPI says about one locked package."""

    name: str
    pinned: str
    newest: str
    advisories: list[str] = field(default_factory=list)
    """`ID (fixed in X)` for each advisory that affects the newest release."""


def read_pins(paths: Iterable[Path]) -> dict[str, str]:
    """`name==version` pins of the lock files, by normalised name."""
    pins: dict[str, str] = {}
    for path in paths:
        for name, version in PIN.findall(path.read_text()):
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def fetch_project(name: str) -> dict[str, Any]:
    """PyPI's project document for `name`, with retries; UnreachableError when none answers."""
    url = PYPI_JSON.format(name=name)
    last: Exception | None = None
    for attempt in range(TRIES):
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
                document: dict[str, Any] = json.load(response)
                return document
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            last = exc
            if isinstance(exc, urllib.error.HTTPError) and exc.code == 404:
                break  # not a network problem: the name is not on PyPI
            time.sleep(BACKOFF_S * (attempt + 1))
    raise UnreachableError(f"{name}: {last}")


def assess(name: str, pinned: str, document: dict[str, Any], ignore: set[str]) -> Finding:
    """The advisories of the newest release that concern our pin of `name`."""
    finding = Finding(name, pinned, str(document["info"]["version"]))
    for advisory in document.get("vulnerabilities") or []:
        if advisory.get("withdrawn"):
            continue
        ids = {advisory.get("id"), *(advisory.get("aliases") or [])}
        if ids & ignore:
            continue
        fixed = ", ".join(advisory.get("fixed_in") or []) or "no fix yet"
        finding.advisories.append(f"{advisory.get('id')} (fixed in {fixed})")
    return finding


def audit(pins: dict[str, str], ignore: set[str]) -> tuple[list[Finding], list[str]]:
    """Findings for every pin, and the packages PyPI could not tell us about."""
    findings: list[Finding] = []
    unreachable: list[str] = []

    def one(item: tuple[str, str]) -> Finding | str:
        name, pinned = item
        try:
            return assess(name, pinned, fetch_project(name), ignore)
        except UnreachableError as exc:
            return str(exc)

    with ThreadPoolExecutor(WORKERS) as pool:
        for result in pool.map(one, sorted(pins.items())):
            if isinstance(result, Finding):
                findings.append(result)
            else:
                unreachable.append(result)
    return findings, unreachable


def main(argv: Sequence[str] | None = None) -> int:
    """Audit the lock files; 0 when clean, 1 on advisories, 2 when PyPI could not be asked."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("locks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    ignore = {item for item in os.environ.get("AUDIT_IGNORE", "").split(",") if item}
    pins = read_pins(args.locks)
    if not pins:
        print("audit: no pins found in the lock files", file=sys.stderr)  # noqa: T201
        return 2
    findings, unreachable = audit(pins, ignore)
    out = sys.stdout
    vulnerable = [f for f in findings if f.advisories]
    behind = [f for f in findings if f.pinned != f.newest]
    for finding in vulnerable:
        print(
            f"VULNERABLE {finding.name}=={finding.pinned}: {'; '.join(finding.advisories)}",
            file=out,
        )  # noqa: T201, E501
    if behind:
        listed = ", ".join(f"{f.name} {f.pinned} (newest {f.newest})" for f in behind)
        print(f"behind the newest release, checked against its advisories only: {listed}", file=out)  # noqa: T201, E501
    for problem in unreachable:
        print(f"UNCHECKED {problem}", file=sys.stderr)  # noqa: T201
    print(  # noqa: T201
        f"audit: {len(pins)} pinned packages, {len(vulnerable)} with known vulnerabilities, "
        f"{len(behind)} behind the newest release, {len(unreachable)} unchecked",
        file=out,
    )
    if unreachable:
        print(  # noqa: T201
            "audit FAILED: PyPI could not be reached for the packages above, so they were not "
            "checked (a network problem: run `make audit` again)",
            file=sys.stderr,
        )
        return 2
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
