"""Packaging contracts: pins, locks, environment variables and IAM policies stay in step.

template.yaml, pyproject.toml, the hashed locks (`make lock`) and the Settings class are
edited separately; these tests catch the drift between them before a deploy does.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cloudformation import load_template

from creditscore_common.settings import Settings

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"

#: Settings read from the environment that template.yaml must not (or cannot) set.
NOT_IN_TEMPLATE = {
    "AWS_REGION": "reserved variable: the Lambda runtime sets it, CloudFormation refuses it",
}
#: Variables Powertools for AWS Lambda reads itself (logs.py, observability.py): not Settings.
POWERTOOLS_VARIABLES = {
    "POWERTOOLS_SERVICE_NAME": "each function's name: `service` of its logs, metric dimension",
    "POWERTOOLS_METRICS_NAMESPACE": "CloudWatch namespace of the custom metrics",
    "POWERTOOLS_LOGGER_LOG_EVENT": "never log an event (tokens, inputs); the code says so too",
    "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "never put a response (scores, inputs) in a trace",
}
#: Settings only a local run (`make sam-local`) sets: declared empty in Globals, because
#: `sam local --env-vars` overrides declared variables only; on AWS they stay empty (the aws
#: backend ignores the path, the JWT authorizer makes a shared token moot).
LOCAL_RUN_ONLY = ("API_TOKEN", "LOCAL_STORE_PATH")

#: What the static analysis below must find for the score function (an anchor: if the
#: analysis broke and found nothing, the equality checks would pass on empty sets).
SCORE_ACTIONS = {"s3:GetObject", "dynamodb:GetItem"}

#: IAM action of the boto3 operations whose action name differs from the operation's (a
#: transaction of conditional Puts needs PutItem on the table).
IAM_ACTION_OF = {
    "s3:HeadObject": "s3:GetObject",
    "s3:ListObjectsV2": "s3:ListBucket",
    "dynamodb:TransactWriteItems": "dynamodb:PutItem",
}
COMMON = REPO / "functions" / "common"
AWS_STORE = COMMON / "creditscore_common" / "store" / "aws.py"
BASE_STORE = COMMON / "creditscore_common" / "store" / "base.py"
BOTO3_CLIENTS = {"s3": "s3", "dynamodb": "dynamodb"}  # AwsStore attribute -> IAM prefix


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = load_template()
    return loaded


def _pins(lines: list[str]) -> dict[str, str]:
    """name -> version of ``name==version`` requirement lines (comments skipped)."""
    pins: dict[str, str] = {}
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)\s*==\s*([^\s;]+)", line)
        assert match, f"not an exact pin: {raw!r}"
        # An extra (aws-lambda-powertools[tracer]) is not part of the name the lock holds.
        name = re.sub(r"[-_.]+", "-", re.sub(r"\[.*\]$", "", match.group(1))).lower()
        pins[name] = match.group(2)
    return pins


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _template_variables(template: dict[str, Any]) -> dict[str, str]:
    """Every environment variable the template sets -> where (Globals or a function)."""
    found = {
        name: "Globals" for name in template["Globals"]["Function"]["Environment"]["Variables"]
    }
    for function, resource in _functions(template).items():
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        found.update(dict.fromkeys(variables, function))
    return found


def _statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    policies = resource["Properties"].get("Policies", [])
    if isinstance(policies, dict | str):
        policies = [policies]
    for policy in policies:
        assert isinstance(policy, dict) and "Statement" in policy, (
            f"only inline policy documents are allowed (reviewable), got {policy!r}"
        )
        statement = policy["Statement"]
        statements.extend(statement if isinstance(statement, list) else [statement])
    return statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ------------------------------------------------------------------------ pins


def _lock(path: str) -> list[tuple[str, str, list[str]]]:
    """(name, version, hashes) of every entry of a hashed lock (continuation lines joined)."""
    text = (REPO / path).read_text().replace("\\\n", " ")
    entries = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)(?:\s*;[^-]*)?(.*)$", line)
        assert match, f"{path}: not an exact pin: {raw!r}"
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", match.group(3))
        entries.append((re.sub(r"[-_.]+", "-", match.group(1)).lower(), match.group(2), hashes))
    return entries


def _locks() -> list[str]:
    result = subprocess.run(
        [sys.executable, "requirements/lock.py", "--list"],
        capture_output=True, text=True, check=True, cwd=REPO,
    )  # fmt: skip
    return result.stdout.split()


def test_locks_are_in_step_with_the_pins() -> None:
    """Each direct pin (pyproject.toml, requirements/*.in) is in its lock at that version."""
    result = subprocess.run(
        [sys.executable, "requirements/lock.py", "--check"],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_every_locked_package_is_pinned_with_hashes() -> None:
    locks = _locks()
    assert {"requirements-dev.txt", "functions/common/requirements.txt"} <= set(locks)
    for lock in locks:
        entries = _lock(lock)
        assert entries, f"{lock} locks nothing"
        for name, version, hashes in entries:
            assert hashes, f"{lock}: {name}=={version} has no --hash"


def test_every_requirements_file_is_a_lock_of_make_lock() -> None:
    """No requirements file escapes `make lock` (an unhashed, hand-written one would)."""
    known = set(_locks())
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*requirements*.txt"],
        capture_output=True, text=True, check=True, cwd=REPO,
    )  # fmt: skip
    found = listed.stdout.split()
    assert "requirements-dev.txt" in found
    for relative in found:
        path = REPO / relative
        if relative in known or not path.is_file():
            continue
        # A function that adds nothing to the layer: a comment-only file that says so.
        assert not _lock(relative), f"{relative} holds packages but make lock does not write it"
        assert "nothing beyond the layer" in path.read_text(), relative


def test_layer_lock_is_light_and_matches_its_extra() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    extra = _pins(pyproject["project"]["optional-dependencies"]["layer"])
    locked = {name: version for name, version, _ in _lock("functions/common/requirements.txt")}
    assert extra, "the layer extra is empty"
    assert {name: locked.get(name) for name in extra} == extra
    # Light functions: the training stack never reaches the layer.
    assert not {"pandas", "scikit-learn", "lightgbm", "scipy", "mlflow"} & set(locked)


def test_function_extras_are_the_layer() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    for function_dir in sorted((REPO / "functions").iterdir()):
        if not (function_dir / "app.py").is_file():
            continue
        assert function_dir.name in extras, f"no [{function_dir.name}] extra in pyproject.toml"
        assert "creditscore[layer]" in extras[function_dir.name]


# ------------------------------------------------------------------------ environment


def test_settings_read_by_name_without_prefix() -> None:
    # The test below relies on field name == environment variable name.
    assert not Settings.model_config.get("env_prefix")
    assert all(field.alias is None for field in Settings.model_fields.values())


def test_every_setting_is_set_by_the_template(template: dict[str, Any]) -> None:
    settings = {name.upper() for name in Settings.model_fields}
    in_globals = {
        name.upper() for name in template["Globals"]["Function"]["Environment"]["Variables"]
    }
    missing = settings - in_globals - set(NOT_IN_TEMPLATE)
    assert not missing, f"Settings fields template.yaml Globals does not set: {sorted(missing)}"


def test_every_template_variable_is_a_setting(template: dict[str, Any]) -> None:
    settings = {name.upper() for name in Settings.model_fields}
    variables = _template_variables(template)
    unknown = {
        name: where
        for name, where in variables.items()
        if name.upper() not in settings and name not in POWERTOOLS_VARIABLES
    }
    assert not unknown, f"variables no Settings field reads (typo?): {unknown}"
    forbidden = {name: where for name, where in variables.items() if name in NOT_IN_TEMPLATE}
    assert not forbidden, f"variables the template must not set: {forbidden}"


def test_local_run_variables_are_empty_on_aws(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    for name in LOCAL_RUN_ONLY:
        assert variables[name] == "", f"{name} must stay empty in template.yaml (local runs only)"
    assert variables["STORE_BACKEND"] == "aws" and variables["AUTH_MODE"] == "jwt"


def test_template_settings_are_valid(template: dict[str, Any]) -> None:
    """The Globals values (references replaced by names) make a valid Settings."""
    values = {
        name.lower(): value if isinstance(value, str) else f"resolved-{name.lower()}"
        for name, value in template["Globals"]["Function"]["Environment"]["Variables"].items()
    }
    settings = Settings(**values)
    assert settings.store_backend == "aws"
    assert settings.auth_mode == "jwt"
    assert settings.model_cache_dir.startswith("/tmp/"), "only /tmp is writable on Lambda"


# ------------------------------------------------------------------------ IAM


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def _store_method_actions() -> dict[str, set[str]]:
    """IAM actions each AwsStore method can call, through the helpers it calls (closure)."""
    tree = ast.parse(AWS_STORE.read_text())
    (store_class,) = [
        node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "AwsStore"
    ]
    direct: dict[str, set[str]] = {}
    calls: dict[str, set[str]] = {}
    for method in store_class.body:
        if not isinstance(method, ast.FunctionDef):
            continue
        direct[method.name], calls[method.name] = set(), set()
        for node in ast.walk(method):
            if not isinstance(node, ast.Attribute):
                continue
            owner = node.value
            # self.s3.get_object / self.dynamodb.get_item (called or passed to _call)
            if (
                isinstance(owner, ast.Attribute)
                and isinstance(owner.value, ast.Name)
                and owner.value.id == "self"
                and owner.attr in BOTO3_CLIENTS
            ):
                action = f"{BOTO3_CLIENTS[owner.attr]}:{_camel(node.attr)}"
                direct[method.name].add(IAM_ACTION_OF.get(action, action))
            elif isinstance(owner, ast.Name) and owner.id == "self":
                calls[method.name].add(node.attr)
    closed: dict[str, set[str]] = {}
    for name in direct:
        seen, todo, actions = {name}, [name], set()
        while todo:
            current = todo.pop()
            actions |= direct.get(current, set())
            for callee in calls.get(current, set()) & set(direct):
                if callee not in seen:
                    seen.add(callee)
                    todo.append(callee)
        closed[name] = actions
    return closed


def _store_interface() -> set[str]:
    """Public method names of the Store interface."""
    tree = ast.parse(BASE_STORE.read_text())
    (store_class,) = [
        node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Store"
    ]
    return {
        node.name
        for node in store_class.body
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")
    }


def _module_file(module: str) -> Path | None:
    base = COMMON / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_common_modules(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "creditscore_common":
                continue
            found.add(node.module)
            # from creditscore_common import service -> the submodule
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if _module_file(f"{node.module}.{alias.name}")
            )
        elif isinstance(node, ast.Import):
            found.update(
                alias.name for alias in node.names if alias.name.startswith("creditscore_common")
            )
    return found


def _function_code(app_file: Path) -> dict[str, ast.Module]:
    """The function's app.py and every creditscore_common module it reaches by imports.

    The store package is left out: it implements the interface, it does not call it.
    """
    trees = {"app": ast.parse(app_file.read_text())}
    todo = list(_imported_common_modules(trees["app"]))
    while todo:
        module = todo.pop()
        if module in trees or module.startswith("creditscore_common.store"):
            continue
        file = _module_file(module)
        if file is None:
            continue
        trees[module] = ast.parse(file.read_text())
        todo.extend(_imported_common_modules(trees[module]))
    return trees


def _needed_actions(app_file: Path) -> tuple[set[str], set[str]]:
    """(store methods the function's code calls, IAM actions those methods need)."""
    interface = _store_interface()
    per_method = _store_method_actions()
    used: set[str] = set()
    for tree in _function_code(app_file).values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in interface:
                used.add(node.attr)
    actions = set().union(*(per_method.get(name, set()) for name in used))
    return used, actions


def _function_dir(resource_name: str) -> Path:
    """ScoreFunction -> functions/score (the Makefile's build-ScoreFunction target)."""
    return REPO / "functions" / resource_name.removesuffix("Function").lower()


def _template_function_names() -> list[str]:
    loaded: dict[str, Any] = load_template()
    return sorted(_functions(loaded))


def test_only_the_aws_store_talks_to_aws() -> None:
    """The static analysis below is sound only if boto3 is used nowhere else."""
    for file in sorted((COMMON / "creditscore_common").rglob("*.py")):
        if file == AWS_STORE:
            continue
        modules = _imported_common_modules(ast.parse(file.read_text()))
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not any(n.split(".")[0] in ("boto3", "botocore") for n in names), file
        assert "creditscore_common.store.aws" not in modules or file.name == "__init__.py", file
    for app_file in sorted((REPO / "functions").glob("*/app.py")):
        text = app_file.read_text()
        assert "boto3" not in text and "botocore" not in text, app_file


def test_the_analysis_finds_the_score_functions_calls() -> None:
    used, actions = _needed_actions(REPO / "functions" / "score" / "app.py")
    assert {"active_version", "model_dir", "get_client"} <= used
    assert actions == SCORE_ACTIONS


@pytest.mark.parametrize("function", _template_function_names())
def test_policies_grant_only_what_the_code_calls(template: dict[str, Any], function: str) -> None:
    app_file = _function_dir(function) / "app.py"
    if not app_file.is_file():
        pytest.fail(f"template.yaml declares {function} but {app_file} does not exist")
    statements = _statements(_functions(template)[function])
    granted: set[str] = set()
    for statement in statements:
        assert statement.get("Effect") == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        for action in _as_list(statement["Action"]):
            assert isinstance(action, str) and "*" not in action, f"wildcard action {action!r}"
            granted.add(action)
        for resource_ref in _as_list(statement["Resource"]):
            assert resource_ref != "*", f"{function}: statement {statement.get('Sid')} on '*'"
            assert isinstance(resource_ref, dict), (
                f"{function}: resource {resource_ref!r} should reference a template resource"
            )
    used, needed = _needed_actions(app_file)
    assert granted - needed == set(), f"{function} is granted actions its code never calls"
    assert needed - granted == set(), (
        f"{function} calls store methods {sorted(used)} that need actions it is not granted"
    )


def test_score_function_cannot_write_or_scan(template: dict[str, Any]) -> None:
    actions = {
        action.lower()
        for statement in _statements(_functions(template)["ScoreFunction"])
        for action in _as_list(statement["Action"])
    }
    for forbidden in (
        "dynamodb:scan",
        "dynamodb:putitem",
        "dynamodb:batchwriteitem",
        "dynamodb:updateitem",
        "dynamodb:deleteitem",
        "s3:putobject",
        "s3:deleteobject",
        "s3:listbucket",
    ):
        assert forbidden not in actions


def test_score_function_reads_models_prefix_only(template: dict[str, Any]) -> None:
    for statement in _statements(_functions(template)["ScoreFunction"]):
        if "s3:GetObject" in _as_list(statement["Action"]):
            resources = _as_list(statement["Resource"])
            assert resources == [{"!Sub": "${ModelBucket.Arn}/models/*"}]
        if "dynamodb:GetItem" in _as_list(statement["Action"]):
            assert _as_list(statement["Resource"]) == [{"!GetAtt": "ClientsTable.Arn"}]


def test_template_targets_x86_64(template: dict[str, Any]) -> None:
    assert template["Globals"]["Function"]["Architectures"] == ["x86_64"]
    assert template["Globals"]["Function"]["Runtime"] == "python3.12"
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            assert properties.get("Architectures", ["x86_64"]) == ["x86_64"], name
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            assert properties["CompatibleArchitectures"] == ["x86_64"], name
            assert properties["CompatibleRuntimes"] == ["python3.12"], name
        if resource.get("Metadata", {}).get("BuildMethod") == "makefile":
            assert resource["Metadata"].get("BuildArchitecture") == "x86_64", name


def test_every_package_folder_is_listed_for_setuptools() -> None:
    """A subpackage missing from [tool.setuptools] packages is left out of a normal install."""
    setup = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setup["packages"])
    found = set()
    for name, folder in setup["package-dir"].items():
        root = REPO / folder
        for init in root.rglob("__init__.py"):
            relative = init.parent.relative_to(root).parts
            found.add(".".join((name, *relative)))
    assert found == listed, (sorted(found - listed), sorted(listed - found))
