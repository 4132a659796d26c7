"""Traffic lines: what a served score logs (model inputs only, no free text), and where."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from creditscore_common import traffic
from creditscore_common.features import FeatureSpec
from creditscore_common.model import ScoringModel
from creditscore_common.service import Score
from training.train import TrainingResult

pytestmark = pytest.mark.xdist_group("trained_model")


@pytest.fixture(scope="module")
def spec(trained_model: TrainingResult) -> FeatureSpec:
    return ScoringModel.load(trained_model.version_dir).spec


@pytest.fixture
def traffic_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "traffic.jsonl"
    traffic.configure_traffic_log(str(path))
    try:
        yield path
    finally:
        traffic.configure_traffic_log("")


def log_one(spec: FeatureSpec, application: dict[str, object], client_id: int | None) -> None:
    score = Score(
        probability=0.25, threshold=0.1, decision="refuse", margin=0.15, model_version="v1"
    )
    traffic.log_served_score(spec, application, score, client_id)


def test_logged_inputs_are_the_model_inputs_only(spec: FeatureSpec) -> None:
    application = {
        "AMT_CREDIT": 406597.5,
        "CNT_CHILDREN": 2,
        "NAME_CONTRACT_TYPE": "Cash loans",
        "NAME_TYPE_SUITE": "Mr Jean Dupont",  # free text where a level belongs
        "NAME_FAMILY_STATUS": 1,  # not text: not a level
        "CODE_GENDER": "F",  # not a model input: never logged
        "AMT_ANNUITY": float("nan"),
        "FLAG_OWN_CAR": True,  # a boolean is not a number here
        "SOMETHING_ELSE": "secret",
    }
    inputs = traffic.logged_inputs(spec, application)
    assert tuple(inputs) == spec.input_columns
    assert inputs["AMT_CREDIT"] == 406597.5 and inputs["CNT_CHILDREN"] == 2.0
    assert inputs["NAME_CONTRACT_TYPE"] == "Cash loans"
    assert inputs["NAME_TYPE_SUITE"] == traffic.OTHER_LEVEL
    assert inputs["NAME_FAMILY_STATUS"] is None and inputs["AMT_ANNUITY"] is None
    assert "CODE_GENDER" not in inputs
    assert inputs.get("FLAG_OWN_CAR") is None
    assert "SOMETHING_ELSE" not in inputs
    assert "Dupont" not in json.dumps(inputs) and "secret" not in json.dumps(inputs)


def test_one_json_line_per_served_score(spec: FeatureSpec, traffic_file: Path) -> None:
    assert traffic.traffic_enabled()
    log_one(spec, {"AMT_CREDIT": 1000.0}, 100002)
    log_one(spec, {}, None)
    lines = traffic_file.read_text().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["event"] == traffic.SCORE_EVENT and first["client_id"] == 100002
    assert first["route"] == "client" and second["route"] == "application"
    assert second["client_id"] is None
    assert (first["probability"], first["threshold"], first["decision"]) == (0.25, 0.1, "refuse")
    assert first["inputs"]["AMT_CREDIT"] == 1000.0


def test_off_writes_nothing(spec: FeatureSpec, tmp_path: Path) -> None:
    path = tmp_path / "traffic.jsonl"
    traffic.configure_traffic_log(str(path))
    traffic.configure_traffic_log("")
    log_one(spec, {"AMT_CREDIT": 1000.0}, 1)
    assert not traffic.traffic_enabled()
    assert not path.exists() or path.read_text() == ""


def test_stdout_target(spec: FeatureSpec, capsys: pytest.CaptureFixture[str]) -> None:
    traffic.configure_traffic_log("stdout")
    try:
        log_one(spec, {"AMT_CREDIT": 1000.0}, 7)
    finally:
        traffic.configure_traffic_log("")
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["client_id"] == 7
