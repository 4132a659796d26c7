"""Logs, metrics and traces: Powertools on a simulated Lambda, nothing of it elsewhere.

A function is run in a fresh process, as in a Lambda container: its app.py imported with
the Lambda runtime's variables set (or not), its handler called with sample events of
events/ and a fake Lambda context; the test reads what the process printed. The X-Ray
daemon is replaced by an emitter that keeps the names of the (sub)segments sent to it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from settings_env import SETTINGS_ENV

from creditscore_common import api, observability
from creditscore_common.errors import ModelUnavailableError, StoreUnavailableError
from training.data import NEW_CLIENTS_FILE, load_applications

pytestmark = pytest.mark.xdist_group("trained_model")

REPO = Path(__file__).resolve().parents[3]
EVENTS = REPO / "events"
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

#: Run in the child process: argv = function name, event files. Prints one marked JSON line
#: per response and one with the X-Ray segment names, beside whatever the function prints.
SCRIPT = """
import json, logging, os, sys
from pathlib import Path
from types import SimpleNamespace

from creditscore_common import api
from serving.local_server import load_function

if "AWS_LAMBDA_FUNCTION_NAME" not in os.environ:  # a host that logs as the local server does
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
function = sys.argv[1]
module = load_function(function)
# The model is loaded again inside the first invocation (as after a refresh), so that the
# function logs during an invocation: its line must carry the correlation id.
api.reset_caches()
api.serve_model_files(module.MODEL_FILES)

segments = []


class Emitter:
    def send_entity(self, entity):
        todo = [entity]
        while todo:
            current = todo.pop()
            segments.append(current.name)
            todo.extend(getattr(current, "subsegments", []))

    def set_daemon_address(self, address):
        pass


if "LAMBDA_TASK_ROOT" in os.environ:
    from aws_xray_sdk.core import xray_recorder

    xray_recorder.emitter = Emitter()
context = SimpleNamespace(
    function_name=f"creditscore-{function}",
    function_version="$LATEST",
    invoked_function_arn=f"arn:aws:lambda:eu-west-3:123456789012:function:creditscore-{function}",
    memory_limit_in_mb=1024,
    aws_request_id="8f5a1b2c-0000-4000-8000-000000000001",
    get_remaining_time_in_millis=lambda: 10_000,
)
for path in sys.argv[2:]:
    response = module.handler(json.loads(Path(path).read_text()), context)
    print("TEST-RESPONSE " + json.dumps({"status": response["statusCode"]}), flush=True)
print("TEST-SEGMENTS " + json.dumps(segments), flush=True)
"""


@pytest.fixture(scope="module")
def store(publish_local: Callable[[Path], Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return publish_local(tmp_path_factory.mktemp("observability") / "store")


@pytest.fixture(scope="module")
def known_client(small_data_dir: Path) -> int:
    return int(load_applications(small_data_dir / NEW_CLIENTS_FILE, with_target=False).ids[1])


def event_file(folder: Path, name: str, request_id: str, client_id: int) -> Path:
    """A sample event with its own request id, about a client of the store."""
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    event["requestContext"]["requestId"] = request_id
    parameters = event.get("pathParameters") or {}
    if "client_id" in parameters:
        old = parameters["client_id"]
        parameters["client_id"] = str(client_id)
        event["rawPath"] = event["rawPath"].replace(f"/{old}/", f"/{client_id}/")
        event["requestContext"]["http"]["path"] = event["rawPath"]
    path = folder / f"{name}.json"
    path.write_text(json.dumps(event))
    return path


def run_function(
    function: str, events: list[Path], store: Path, on_lambda: bool
) -> subprocess.CompletedProcess[str]:
    """Import functions/<function>/app.py in a new process and send it the events."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in SETTINGS_ENV
        and not name.startswith(("AWS_", "POWERTOOLS_", "LAMBDA_", "_X_AMZN", "LOG_"))
    }
    env |= {
        "STORE_BACKEND": "local",
        "LOCAL_STORE_PATH": str(store),
        "AUTH_MODE": "jwt",
        "TRAFFIC_LOG": "stdout",
    }
    if on_lambda:  # what the Lambda runtime and template.yaml set
        env |= {
            "AWS_LAMBDA_FUNCTION_NAME": f"creditscore-{function}",
            "AWS_REGION": "eu-west-3",
            "LAMBDA_TASK_ROOT": str(REPO / "functions" / function),
            "_X_AMZN_TRACE_ID": TRACE_HEADER,
            "POWERTOOLS_SERVICE_NAME": function,
            "POWERTOOLS_METRICS_NAMESPACE": observability.NAMESPACE,
            "POWERTOOLS_LOGGER_LOG_EVENT": "false",
        }
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, function, *map(str, events)],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-4000:]
    return run


def marked(stdout: str, mark: str) -> list[Any]:
    return [
        json.loads(line.split(" ", 1)[1]) for line in stdout.splitlines() if line.startswith(mark)
    ]


def application_values(event_path: Path) -> list[str]:
    """The distinctive values of an event's application, as they would appear in a log."""
    body = json.loads(json.loads(event_path.read_text())["body"])
    values = []
    for value in body["application"].values():
        if isinstance(value, str) and len(value) >= 3:
            values.append(value)
        elif isinstance(value, float) and abs(value) >= 1000:
            values.append(json.dumps(value))
    assert values, "the sample application has no distinctive value"
    return values


#: function -> (events, metrics of each invocation)
CASES = {
    "score": (
        ["score_application", "score_client"],
        {observability.SCORES_SERVED, observability.REFUSALS, observability.BORDERLINE_SCORES},
    ),
    "explain": (["explain_application", "counterfactual_application"], None),
}
EXPLAIN_METRICS = [{observability.EXPLANATIONS}, {observability.COUNTERFACTUALS}]


@pytest.mark.parametrize("function", sorted(CASES))
def test_on_lambda_logs_metrics_and_traces(
    function: str, store: Path, known_client: int, tmp_path: Path
) -> None:
    names, score_metrics = CASES[function]
    request_ids = [f"request-{function}-{i}" for i in range(len(names))]
    events = [
        event_file(tmp_path, name, request_id, known_client)
        for name, request_id in zip(names, request_ids, strict=True)
    ]
    run = run_function(function, events, store, on_lambda=True)
    assert [r["status"] for r in marked(run.stdout, "TEST-RESPONSE")] == [200] * len(events)

    blobs, logs, traffic = [], [], []
    for line in run.stdout.splitlines():
        if line.startswith("TEST-"):
            continue
        record = json.loads(line)  # every line the function prints is one JSON object
        if "_aws" in record:
            blobs.append(record)
        elif record.get("event") == "creditscore.score":
            traffic.append(line)
        else:
            logs.append(line)
            assert {"level", "message", "service", "timestamp"} <= set(record), record
            assert record["service"] == function

    # Logs: inside an invocation, its API Gateway request id as correlation id.
    in_invocation = [json.loads(line) for line in logs if "function_request_id" in line]
    assert any("loaded" in r["message"] for r in in_invocation), logs
    assert {r["correlation_id"] for r in in_invocation} <= set(request_ids)
    assert in_invocation[0]["correlation_id"] == request_ids[0]
    # Never a token nor an applicant's input outside the traffic lines (score function only).
    secrets = ["Bearer", "eyJ"] + [
        v for e in events if "application" in e.name for v in application_values(e)
    ]
    for line in logs + [json.dumps(b) for b in blobs] + [run.stderr]:
        leaked = [secret for secret in secrets if secret in line]
        assert not leaked, (leaked, line)
    assert len(traffic) == (2 if function == "score" else 0)

    # Metrics: one EMF blob per invocation, dimension service=<function>, and a cold start.
    cold = [b for b in blobs if "ColdStart" in b]
    assert len(cold) == 1 and cold[0]["function_name"] == f"creditscore-{function}"
    served = [b for b in blobs if "ColdStart" not in b]
    assert len(served) == len(events)
    expected = [score_metrics] * len(events) if score_metrics else EXPLAIN_METRICS
    for blob, wanted in zip(served, expected, strict=True):
        (directive,) = blob["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == observability.NAMESPACE
        assert directive["Dimensions"] == [[observability.DIMENSION]]
        assert blob[observability.DIMENSION] == function
        assert {m["Name"] for m in directive["Metrics"]} == wanted
        assert all(m["Unit"] == "Count" for m in directive["Metrics"])
    if function == "score":
        # One value per invocation (EMF arrays): 1 served, refused 0 or 1, borderline 0 or 1.
        assert all(blob[observability.SCORES_SERVED] == [1.0] for blob in served), served
        for name in (observability.REFUSALS, observability.BORDERLINE_SCORES):
            assert all(blob[name] in ([0.0], [1.0]) for blob in served), served

    # Traces: the handler, the store's calls and the model's computations.
    (segments,) = marked(run.stdout, "TEST-SEGMENTS")
    assert "## lambda_handler" in segments
    assert "store.active_version" in segments
    if function == "score":
        assert {"store.get_client", observability.MODEL_SCORE} <= set(segments)
    else:
        assert {observability.MODEL_EXPLAIN, observability.MODEL_COUNTERFACTUAL} <= set(segments)


def test_elsewhere_logs_stay_plain_and_no_metric_is_printed(
    store: Path, known_client: int, tmp_path: Path
) -> None:
    events = [
        event_file(tmp_path, name, f"request-{name}", known_client)
        for name in ("score_application", "score_client")
    ]
    run = run_function("score", events, store, on_lambda=False)
    assert [r["status"] for r in marked(run.stdout, "TEST-RESPONSE")] == [200, 200]
    assert "_aws" not in run.stdout and "CloudWatchMetrics" not in run.stdout + run.stderr
    printed = [line for line in run.stdout.splitlines() if not line.startswith("TEST-")]
    assert len(printed) == 2 and all('"event":"creditscore.score"' in line for line in printed)
    assert any(
        line.startswith("INFO creditscore_common.provider: model ")
        for line in run.stderr.splitlines()
    ), run.stderr
    assert not [line for line in run.stderr.splitlines() if line.startswith("{")]
    assert marked(run.stdout, "TEST-SEGMENTS") == [[]]


def test_outside_lambda_nothing_is_wrapped_nor_emitted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200}

    assert observability.instrument(handler, "score") is handler
    # Powertools would print an EMF blob by itself at the 100th metric: none is kept here.
    for _ in range(250):
        observability.count_served_score("refuse", "borderline")
        observability.count(observability.STORE_ERRORS)
    with observability.traced(observability.MODEL_SCORE):
        pass
    sentinel = object()
    assert observability.traced_store(sentinel) is sentinel  # type: ignore[arg-type]
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("error", "metric"),
    [
        (StoreUnavailableError("DynamoDB throttled"), observability.STORE_ERRORS),
        (ModelUnavailableError("no active model version"), observability.MODEL_ERRORS),
    ],
)
def test_a_503_answer_counts_its_cause(
    error: Exception, metric: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted: list[str] = []
    monkeypatch.setattr(observability, "count", lambda name, value=1: counted.append(name))
    response = asyncio.run(api._domain_error(None, error))  # type: ignore[arg-type]
    assert response.status_code == 503
    assert counted == [metric]
