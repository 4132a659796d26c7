"""The deployment package: `sam validate --lint`, `sam build`, and what the build contains.

The built score function is run alone in a clean CPython 3.12 (the Lambda runtime's
version) that sees only the function's folder and the layer: it must answer a sample event
without the training stack (pandas, scikit-learn, LightGBM, SciPy). The layer must hold
x86_64 Linux binaries only, whatever machine built it.

The SAM CLI must be present (CI really runs it): see tests/sam_support.py, which also holds
the `sam build` this module shares with tests/e2e/test_sam_local.py.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sam_support import REGION, built, find_python312, run_sam, sam_build

from training.train import TrainingResult

pytestmark = pytest.mark.slow
#: The build is shared by the tests of this group; scoring also needs the trained model,
#: so that test joins the model's group (the build is then shared through a file lock).
sam_group = pytest.mark.xdist_group("sam")

#: Fixtures shared with tests/e2e/test_sam_local.py (imported: pytest finds them here).
__all__ = ["built", "sam_build"]

REPO = Path(__file__).resolve().parents[2]
EM_X86_64 = 62
#: Amazon Linux 2023 (the python3.12 runtime) ships glibc 2.34.
MAX_GLIBC = (2, 34)
LAMBDA_PYTHON = (3, 12)
FORBIDDEN_MODULES = (
    "pandas",
    "sklearn",
    "lightgbm",
    "scipy",
    "pyarrow",
    "mlflow",
    "training",
    "monitoring",
    "serving",
    "benchmarks",
)
#: Lambda's limit on a function and its layers, unzipped.
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024


def layer_dir(built: Path) -> Path:
    return built / "CommonLayer" / "python"


# ---------------------------------------------------------------------------- sam itself


@sam_group
def test_sam_validate_lint() -> None:
    process = run_sam("validate", "--lint", "--region", REGION)
    assert process.returncode == 0, process.stdout + process.stderr
    assert "is a valid SAM Template" in process.stdout + process.stderr


@sam_group
def test_sam_build_succeeds(sam_build: dict[str, Any]) -> None:
    assert sam_build["returncode"] == 0, sam_build["output"][-4000:]
    build_dir: Path = sam_build["build_dir"]
    assert (build_dir / "template.yaml").is_file()
    assert (build_dir / "ScoreFunction" / "app.py").is_file()
    assert (layer_dir(build_dir) / "creditscore_common" / "__init__.py").is_file()


@sam_group
def test_build_does_not_ship_the_training_stack(built: Path) -> None:
    for folder in (layer_dir(built), built / "ScoreFunction"):
        present = {p.name.split("-")[0].lower() for p in folder.iterdir()}
        assert not present & {
            "pandas",
            "sklearn",
            "scikit_learn",
            "lightgbm",
            "scipy",
            "pyarrow",
            "mlflow",
            "training",
        }


@sam_group
def test_score_function_and_layer_fit_in_lambda(built: Path) -> None:
    size = sum(
        p.stat().st_size
        for folder in (built / "CommonLayer", built / "ScoreFunction")
        for p in folder.rglob("*")
        if p.is_file()
    )
    assert size < MAX_UNZIPPED_BYTES, f"{size / 2**20:.0f} MiB unzipped"


# ---------------------------------------------------------------------------- architecture


def elf_machine(path: Path) -> int | None:
    """e_machine of an ELF file (None if the file is not ELF)."""
    with path.open("rb") as handle:
        header = handle.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    byte_order = "<" if header[5] == 1 else ">"
    (machine,) = struct.unpack(f"{byte_order}H", header[18:20])
    return int(machine)


@sam_group
def test_every_binary_in_the_build_is_x86_64(built: Path) -> None:
    shared_objects = [p for p in built.rglob("*.so*") if p.is_file()]
    assert len(shared_objects) > 5, "the layer should hold numpy, onnxruntime, pydantic-core"
    wrong = {}
    for path in built.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        machine = elf_machine(path)
        if path in shared_objects:
            assert machine is not None, f"{path} is named like a shared object but is not ELF"
        if machine is not None and machine != EM_X86_64:
            wrong[str(path.relative_to(built))] = machine
    assert not wrong, f"ELF files not for x86_64 (e_machine {EM_X86_64}): {wrong}"


def _tag_fits_lambda(tag: str) -> bool:
    interpreter, abi, platform = tag.split("-")
    python_ok = interpreter in ("py3", "cp312") or (
        abi == "abi3" and interpreter.startswith("cp3") and int(interpreter[3:]) <= LAMBDA_PYTHON[1]
    )
    if platform == "any":
        return python_ok and abi == "none"
    legacy = {
        "manylinux1_x86_64": (2, 5),
        "manylinux2010_x86_64": (2, 12),
        "manylinux2014_x86_64": (2, 17),
    }
    glibc = legacy.get(platform)
    match = re.fullmatch(r"manylinux_(\d+)_(\d+)_x86_64", platform)
    if match:
        glibc = (int(match.group(1)), int(match.group(2)))
    return python_ok and glibc is not None and glibc <= MAX_GLIBC


@sam_group
def test_every_wheel_in_the_layer_fits_the_lambda_runtime(built: Path) -> None:
    wheels = sorted(layer_dir(built).glob("*.dist-info/WHEEL"))
    assert len(wheels) >= 6, "the pinned layer requirements are missing"
    for wheel in wheels:
        tags = [
            line.split(":", 1)[1].strip()
            for line in wheel.read_text().splitlines()
            if line.startswith("Tag:")
        ]
        assert tags, f"{wheel} names no tag"
        for tag in tags:
            platform = tag.split("-")[2]
            assert platform == "any" or (
                platform.startswith("manylinux") and platform.endswith("_x86_64")
            ), f"{wheel.parent.name}: {tag} is not a Linux x86_64 (glibc) wheel"
        assert any(_tag_fits_lambda(tag) for tag in tags), (
            f"{wheel.parent.name}: {tags}: none is py3-none-any or manylinux x86_64 "
            f"with glibc <= {MAX_GLIBC[0]}.{MAX_GLIBC[1]} for CPython 3.12"
        )


def test_the_template_declares_x86_64() -> None:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((REPO / "template.yaml").read_text(), Loader=Loader)
    assert template["Globals"]["Function"]["Architectures"] == ["x86_64"]
    assert (
        template["Globals"]["Function"]["Runtime"] == f"python{LAMBDA_PYTHON[0]}.{LAMBDA_PYTHON[1]}"
    )
    layer = template["Resources"]["CommonLayer"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["x86_64"]
    assert layer["Metadata"]["BuildArchitecture"] == "x86_64"


# ---------------------------------------------------------------------------- bytecode


def pyc_flags(path: Path) -> int:
    """The PEP 552 flags of a .pyc: 0b01 hash-based, 0b10 check the source."""
    with path.open("rb") as handle:
        header = handle.read(8)
    (flags,) = struct.unpack("<I", header[4:8])
    return int(flags)


@sam_group
def test_app_is_precompiled_with_unchecked_hashes(built: Path) -> None:
    tag = f"cpython-{LAMBDA_PYTHON[0]}{LAMBDA_PYTHON[1]}"
    pyc = built / "ScoreFunction" / "__pycache__" / f"app.{tag}.pyc"
    assert pyc.is_file(), f"no {pyc.name}: the read-only task root cannot write it at run time"
    assert pyc_flags(pyc) == 0b01, "expected an unchecked-hash .pyc (zip timestamps lie)"
    common = layer_dir(built) / "creditscore_common"
    for module in common.rglob("*.py"):
        compiled = module.parent / "__pycache__" / f"{module.stem}.{tag}.pyc"
        assert compiled.is_file(), compiled
        assert pyc_flags(compiled) == 0b01, compiled


# ---------------------------------------------------------------------------- run it alone

RUNNER = textwrap.dedent(
    """
    import json, sys
    function_dir, layer, event_file = sys.argv[1:4]
    stdlib = [p for p in sys.path if p and "-packages" not in p]
    sys.path[:] = [function_dir, layer, *stdlib]
    import app
    event = json.load(open(event_file))

    class Context:
        function_name = "creditscore-ScoreFunction"
        function_version = "$LATEST"
        aws_request_id = "00000000-0000-0000-0000-000000000000"
        memory_limit_in_mb = 1024
        invoked_function_arn = (
            "arn:aws:lambda:eu-west-3:123456789012:function:creditscore-ScoreFunction"
        )
        log_group_name = "/creditscore/test/score"
        log_stream_name = "2026/11/30/[$LATEST]0"

        def get_remaining_time_in_millis(self):
            return 10000

    response = app.handler(event, Context())
    modules = {
        name: getattr(sys.modules.get(name), "__file__", None)
        for name in ("app", "creditscore_common", "numpy", "onnxruntime", "fastapi", "pydantic")
    }
    print("RESULT " + json.dumps({
        "response": response,
        "imported": sorted({name.split(".")[0] for name in sys.modules}),
        "files": modules,
        "path": sys.path,
        "version": list(sys.version_info[:2]),
    }))
    """
)


@pytest.fixture(scope="module")
def lambda_store(
    publish_local: Callable[[Path], Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return publish_local(tmp_path_factory.mktemp("sam_store") / "store")


def run_built(
    built: Path, function: str, event: str, lambda_store: Path, tmp_path: Path
) -> dict[str, Any]:
    """Run a built function alone in ``python3.12 -I -S`` on one event; its RESULT record."""
    python = find_python312()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "STORE_BACKEND": "local",
        "LOCAL_STORE_PATH": str(lambda_store),
        "AUTH_MODE": "jwt",
        "MODEL_CACHE_DIR": str(tmp_path / "model-cache"),
        "AWS_LAMBDA_FUNCTION_NAME": f"creditscore-{function}",
        "AWS_REGION": REGION,
    }
    process = subprocess.run(
        [python, "-I", "-S", "-c", RUNNER, str(built / function), str(layer_dir(built)),
         str(REPO / "events" / event)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr[-4000:]
    assert "Traceback" not in process.stderr, process.stderr[-4000:]
    (line,) = [ln for ln in process.stdout.splitlines() if ln.startswith("RESULT ")]
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return result


@pytest.mark.xdist_group("trained_model")
def test_built_explain_function_runs_alone(
    built: Path, lambda_store: Path, trained_model: TrainingResult, tmp_path: Path
) -> None:
    result = run_built(built, "ExplainFunction", "explain_application.json", lambda_store, tmp_path)
    response = result["response"]
    assert response["statusCode"] == 200, response
    body = json.loads(response["body"])
    assert body["model_version"] == trained_model.model_version
    # Exact TreeSHAP through LightGBM's C library: neither scipy nor lightgbm's Python side.
    assert not set(result["imported"]) & {"scipy", "pandas", "sklearn", "lightgbm"}
    size = sum(
        p.stat().st_size
        for folder in (built / "CommonLayer", built / "ExplainFunction")
        for p in folder.rglob("*")
        if p.is_file()
    )
    assert size < MAX_UNZIPPED_BYTES, f"{size / 2**20:.0f} MiB unzipped"


@pytest.mark.xdist_group("trained_model")
def test_built_score_function_runs_alone(
    built: Path, lambda_store: Path, trained_model: TrainingResult, tmp_path: Path
) -> None:
    function_dir, layer = built / "ScoreFunction", layer_dir(built)
    result = run_built(built, "ScoreFunction", "score_application.json", lambda_store, tmp_path)

    assert result["version"] == list(LAMBDA_PYTHON)
    assert result["path"][:2] == [str(function_dir), str(layer)]
    assert not any("-packages" in p for p in result["path"])
    assert result["files"]["app"].startswith(str(function_dir))
    for package in ("creditscore_common", "numpy", "onnxruntime", "fastapi", "pydantic"):
        assert result["files"][package].startswith(str(layer)), (package, result["files"])

    response = result["response"]
    assert response["statusCode"] == 200, response
    body = json.loads(response["body"])
    assert 0.0 <= body["probability"] <= 1.0
    assert body["model_version"] == trained_model.model_version
    assert body["threshold"] == trained_model.metadata["threshold"]
    assert body["decision"] in ("accept", "refuse")

    imported = set(result["imported"])
    assert {"numpy", "onnxruntime", "fastapi", "mangum", "creditscore_common"} <= imported
    assert not imported & set(FORBIDDEN_MODULES), sorted(imported & set(FORBIDDEN_MODULES))
