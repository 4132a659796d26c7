"""template.yaml's safety properties: what a release or a deletion must never lose or hide.

Read as data (tests/cloudformation.py), so each assertion names the property a reviewer
would check by hand: retained stateful resources, bounded log retention, access logs without
headers, reserved concurrency, a gradual rollout guarded by alarms, and advisors' sign-in.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cloudformation import load_template

from creditscore_common import observability

FUNCTIONS = ("ScoreFunction", "ExplainFunction", "ClientFunction")
STATEFUL = ("ClientsTable", "DecisionsTable", "AdvisorsUserPool", "AdministratorsUserPool")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def ref(value: Any) -> str | None:
    """The resource or parameter name of a ``!Ref`` (None for anything else)."""
    return value.get("!Ref") if isinstance(value, dict) else None


def function_properties(template: dict[str, Any], name: str) -> dict[str, Any]:
    """A function's properties with the Globals it inherits (the function's own win)."""
    merged = dict(template["Globals"]["Function"])
    merged.update(template["Resources"][name]["Properties"])
    return merged


@pytest.mark.parametrize("name", STATEFUL)
def test_stateful_resources_are_retained(template: dict[str, Any], name: str) -> None:
    resource = template["Resources"][name]
    assert resource.get("DeletionPolicy") == "Retain"
    assert resource.get("UpdateReplacePolicy") == "Retain"


def test_tables_and_user_pool_have_deletion_protection(template: dict[str, Any]) -> None:
    for name in ("ClientsTable", "DecisionsTable"):
        assert template["Resources"][name]["Properties"]["DeletionProtectionEnabled"] is True
    for pool in ("AdvisorsUserPool", "AdministratorsUserPool"):
        assert template["Resources"][pool]["Properties"]["DeletionProtection"] == "ACTIVE"


def test_every_function_logs_to_a_group_with_retention(template: dict[str, Any]) -> None:
    groups = resources(template, "AWS::Logs::LogGroup")
    parameters = template["Parameters"]
    for name in FUNCTIONS:
        group = ref(function_properties(template, name)["LoggingConfig"]["LogGroup"])
        assert group in groups, f"{name} logs to {group}, not a group of the template"
        retention = ref(groups[group]["Properties"]["RetentionInDays"])
        assert retention in parameters
        days = parameters[retention]["Default"]
        # The score function's lines hold applicants' inputs (traffic lines): 90 days.
        assert days == (90 if name == "ScoreFunction" else 30), (name, days)
        assert max(parameters[retention]["AllowedValues"]) <= 180
    for group in groups.values():
        assert "RetentionInDays" in group["Properties"], "a log group kept forever"


def test_access_logs_are_json_without_headers(template: dict[str, Any]) -> None:
    settings = template["Resources"]["CreditApi"]["Properties"]["AccessLogSettings"]
    assert ref(settings["DestinationArn"]["!GetAtt"].split(".")[0]) is None
    assert settings["DestinationArn"]["!GetAtt"] == "ApiAccessLogGroup.Arn"
    line = settings["Format"]
    fields = json.loads(re.sub(r"\$context\.[A-Za-z.]+", "x", line))
    assert {"requestId", "routeKey", "status"} <= set(fields)
    assert "header" not in line.lower() and "authorization" not in line.lower()
    assert "$context.authorizer" not in line


def test_every_function_has_reserved_concurrency(template: dict[str, Any]) -> None:
    for name in FUNCTIONS:
        value = function_properties(template, name)["ReservedConcurrentExecutions"]
        assert ref(value) == "ReservedConcurrency"
    assert template["Parameters"]["ReservedConcurrency"]["Default"] >= 1


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functions_roll_out_gradually_behind_alarms(template: dict[str, Any], name: str) -> None:
    properties = function_properties(template, name)
    assert properties["AutoPublishAlias"] == "live"
    preference = properties["DeploymentPreference"]
    assert ref(preference["Type"]) == "DeploymentType"
    assert template["Parameters"]["DeploymentType"]["Default"] == "Canary10Percent5Minutes"
    alarms = {ref(alarm) for alarm in preference["Alarms"]}
    metrics = {}
    for alarm in alarms:
        assert alarm is not None
        alarm_properties = template["Resources"][alarm]["Properties"]
        assert [ref(a) for a in alarm_properties["AlarmActions"]] == ["AlarmsTopic"]
        if "MetricName" in alarm_properties:
            dimensions = {d["Name"]: d["Value"] for d in alarm_properties["Dimensions"]}
            assert ref(dimensions["FunctionName"]) == name
            assert dimensions["Resource"] == {"!Sub": f"${{{name}}}:live"}  # the new version
            metrics[alarm_properties["MetricName"]] = alarm_properties
        else:
            expression = next(m for m in alarm_properties["Metrics"] if m["ReturnData"])
            names = {
                m["MetricStat"]["Metric"]["MetricName"]
                for m in alarm_properties["Metrics"]
                if "MetricStat" in m
            }
            assert names == {"5xx", "Count"} and "/" in expression["Expression"]
            metrics["api-5xx-rate"] = alarm_properties
    assert set(metrics) == {"Errors", "Throttles", "Duration", "api-5xx-rate"}
    assert metrics["Duration"]["ExtendedStatistic"] == "p99"


def test_alarms_notify_a_topic(template: dict[str, Any]) -> None:
    topics = resources(template, "AWS::SNS::Topic")
    assert set(topics) == {"AlarmsTopic"}
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 1 + 4 * len(FUNCTIONS)  # API 5xx; errors, throttles, p99, store
    assert "AlarmsTopicArn" in template["Outputs"]


def test_mfa_is_optional_for_advisors_and_required_for_administrators(
    template: dict[str, Any],
) -> None:
    advisors = template["Resources"]["AdvisorsUserPool"]["Properties"]
    administrators = template["Resources"]["AdministratorsUserPool"]["Properties"]
    assert advisors["MfaConfiguration"] == "OPTIONAL"
    assert administrators["MfaConfiguration"] == "ON"
    for pool in (advisors, administrators):
        assert pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]  # TOTP, no SMS
        assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True


def test_the_smoke_test_client_signs_in_through_iam_only(template: dict[str, Any]) -> None:
    client = template["Resources"]["SmokeTestClient"]["Properties"]
    assert ref(client["UserPoolId"]) == "AdvisorsUserPool"
    assert set(client["ExplicitAuthFlows"]) == {
        "ALLOW_ADMIN_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    }
    assert client["IdTokenValidity"] == 5 and client["TokenValidityUnits"]["IdToken"] == "minutes"
    jwt = template["Resources"]["CreditApi"]["Properties"]["Auth"]["Authorizers"]["AdvisorsJwt"]
    audience = {ref(a) for a in jwt["JwtConfiguration"]["audience"]}
    assert audience == {"DashboardClient", "SmokeTestClient"}


def test_cfn_lint_with_info_checks_finds_nothing() -> None:
    """cfn-lint (from the SAM CLI's venv, as make install makes it), info checks included."""
    root = Path(__file__).resolve().parents[2]
    cfn_lint = root / ".venv-sam" / "bin" / "cfn-lint"
    if not cfn_lint.is_file():
        pytest.fail(f"{cfn_lint} is missing: run make install (it creates .venv-sam)")
    run = subprocess.run(
        [str(cfn_lint), "template.yaml", "--include-checks", "I"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0 and not run.stdout.strip(), run.stdout + run.stderr


# ------------------------------------------------------------------ observability


def dashboard_metrics(template: dict[str, Any]) -> list[list[Any]]:
    """Every metric line of the dashboard's widgets (its JSON body, references replaced)."""
    (dashboard,) = resources(template, "AWS::CloudWatch::Dashboard").values()
    body = re.sub(r"\$\{[A-Za-z0-9:.]+\}", "x", dashboard["Properties"]["DashboardBody"]["!Sub"])
    return [
        line for widget in json.loads(body)["widgets"] for line in widget["properties"]["metrics"]
    ]


def test_functions_name_their_service_for_logs_and_metrics(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == observability.NAMESPACE
    assert variables["POWERTOOLS_LOGGER_LOG_EVENT"] == "false"
    assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    assert function_properties(template, "ScoreFunction")["Tracing"] == "Active"
    for name in FUNCTIONS:
        own = template["Resources"][name]["Properties"]["Environment"]["Variables"]
        # The name each app.py passes to observability.instrument (its folder).
        assert own["POWERTOOLS_SERVICE_NAME"] == name.removesuffix("Function").lower()


def test_the_dashboard_shows_every_metric_the_code_emits(template: dict[str, Any]) -> None:
    lines = dashboard_metrics(template)
    custom = {
        (line[1], line[3])
        for line in lines
        if isinstance(line[0], str) and line[0] == observability.NAMESPACE
        and line[2] == observability.DIMENSION
    }  # fmt: skip
    shown = {name for name, _ in custom}
    assert set(observability.METRICS) <= shown, set(observability.METRICS) - shown
    services = {name.removesuffix("Function").lower() for name in FUNCTIONS}
    for metric in (observability.STORE_ERRORS, observability.MODEL_ERRORS):
        assert {service for name, service in custom if name == metric} == services
    expressions = [line[0]["expression"] for line in lines if isinstance(line[0], dict)]
    assert any("borderline" in e and "/" in e for e in expressions), expressions
    aws = {(line[0], line[1]) for line in lines if isinstance(line[0], str)}
    assert {("AWS/Lambda", "Errors"), ("AWS/Lambda", "Duration"), ("AWS/ApiGateway", "5xx")} <= aws


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_function_has_a_store_errors_alarm_outside_its_rollback(
    template: dict[str, Any], name: str
) -> None:
    service = name.removesuffix("Function").lower()
    alarm_name = f"{name.removesuffix('Function')}StoreErrorsAlarm"
    alarm = template["Resources"][alarm_name]["Properties"]
    assert [ref(a) for a in alarm["AlarmActions"]] == ["AlarmsTopic"]
    read = {
        (m["MetricStat"]["Metric"]["Namespace"], m["MetricStat"]["Metric"]["MetricName"])
        for m in alarm["Metrics"]
        if "MetricStat" in m
    }
    assert read == {
        (observability.NAMESPACE, observability.STORE_ERRORS),
        (observability.NAMESPACE, observability.MODEL_ERRORS),
    }
    for metric in alarm["Metrics"]:
        if "MetricStat" in metric:
            dimensions = metric["MetricStat"]["Metric"]["Dimensions"]
            assert dimensions == [{"Name": observability.DIMENSION, "Value": service}]
    # Not a rollback alarm: the store is not the new version's code (see template.yaml).
    rollback = {
        ref(a) for a in function_properties(template, name)["DeploymentPreference"]["Alarms"]
    }
    assert alarm_name not in rollback


def test_advisors_sign_in_with_srp_only(template: dict[str, Any]) -> None:
    client = template["Resources"]["DashboardClient"]["Properties"]
    assert set(client["ExplicitAuthFlows"]) == {"ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}
    assert client["GenerateSecret"] is False  # a public client: no secret in the dashboard
