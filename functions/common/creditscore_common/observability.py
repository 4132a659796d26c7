"""Metrics and traces of the functions on Lambda, with Powertools for AWS Lambda (Python).

On Lambda (``AWS_LAMBDA_FUNCTION_NAME`` set), :func:`instrument` wraps a function's handler:

* logs: Powertools' JSON formatter on the root logger (:mod:`creditscore_common.logs`), with
  the API Gateway request id as ``correlation_id``; the event is never logged (it holds the
  bearer token and the applicant's inputs), nor is the handler's response traced;
* metrics: the counts of :data:`METRICS` in CloudWatch's embedded metric format (EMF), one
  blob printed to stdout at the end of each invocation, namespace :data:`NAMESPACE`, one
  dimension ``service`` (the function: score, explain, client), and Powertools' ``ColdStart``;
* traces: an X-Ray subsegment for the handler, one per store call (:func:`traced_store`) and
  one per model computation (:func:`traced`); botocore's calls are traced by the X-Ray SDK.

Elsewhere (the local server, tests, the command line) nothing is imported from Powertools:
:func:`count` does nothing (no EMF blob ever reaches a terminal; Powertools would print one
by itself at its 100th metric), :func:`traced` and :func:`traced_store` add nothing, and
:func:`instrument` returns the handler as it is.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final, ParamSpec, TypeVar, cast

from creditscore_common import logs

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics, Tracer

    from creditscore_common.store import Store

log = logging.getLogger(__name__)

#: CloudWatch namespace of the custom metrics (template.yaml's POWERTOOLS_METRICS_NAMESPACE).
NAMESPACE: Final = "CreditScore"
#: The function a metric comes from: its only dimension (Powertools' ``service``).
DIMENSION: Final = "service"

# The metrics, all counts. Refusals and BorderlineScores are 0 or 1 for every served score,
# so that Sum(BorderlineScores) / Sum(ScoresServed) is the borderline share of any period.
SCORES_SERVED: Final = "ScoresServed"  # scores answered by the score routes (traffic)
REFUSALS: Final = "Refusals"  # of which refused
BORDERLINE_SCORES: Final = "BorderlineScores"  # of which in the borderline band
EXPLANATIONS: Final = "Explanations"  # local explanations (TreeSHAP) answered
COUNTERFACTUALS: Final = "Counterfactuals"  # counterfactual searches answered
STORE_ERRORS: Final = "StoreErrors"  # requests answered 503: store unreachable or busy
MODEL_ERRORS: Final = "ModelUnavailable"  # requests answered 503: no servable model version
#: Every metric this package emits (the dashboard of template.yaml shows each; a test checks).
METRICS: Final = (
    SCORES_SERVED,
    REFUSALS,
    BORDERLINE_SCORES,
    EXPLANATIONS,
    COUNTERFACTUALS,
    STORE_ERRORS,
    MODEL_ERRORS,
)

#: Names of the X-Ray subsegments: ``store.<method>`` for the store, these for the model.
MODEL_SCORE: Final = "model.score"
MODEL_EXPLAIN: Final = "model.explain"
MODEL_COUNTERFACTUAL: Final = "model.counterfactual"

NAMESPACE_ENV: Final = "POWERTOOLS_METRICS_NAMESPACE"

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]
P = ParamSpec("P")
R = TypeVar("R")


class _State:
    """What :func:`instrument` set up (nothing outside Lambda)."""

    metrics: Metrics | None = None
    tracer: Tracer | None = None
    #: Inside an invocation: subsegments outside one (the init phase) would be discarded
    #: by the X-Ray SDK with a warning each.
    invoking = False


_state = _State()


def on_lambda() -> bool:
    """Whether this process is a Lambda function (the runtime sets AWS_LAMBDA_FUNCTION_NAME)."""
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ


def count(name: str, value: int = 1) -> None:
    """Add ``value`` to the count ``name`` of this invocation (nothing outside Lambda)."""
    metrics = _state.metrics
    if metrics is not None:
        metrics.add_metric(name=name, unit="Count", value=value)


def count_served_score(decision: str, band: str) -> None:
    """Count a score served by the score routes: served, refused (0/1), borderline (0/1)."""
    if _state.metrics is None:
        return
    count(SCORES_SERVED)
    count(REFUSALS, int(decision == "refuse"))
    count(BORDERLINE_SCORES, int(band == "borderline"))


def counted(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: count ``name`` once each time the function returns (raising is not counted)."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            result = function(*args, **kwargs)
            count(name)
            return result

        return call

    return decorate


@contextmanager
def traced(name: str) -> Iterator[None]:
    """An X-Ray subsegment ``name`` around the block, inside a traced invocation only.

    Also a decorator (``@traced(name)``): a subsegment around each call.
    """
    tracer = _state.tracer
    if tracer is None or not _state.invoking:
        yield
        return
    with tracer.provider.in_subsegment(name=name):
        yield


class _TracedStore:
    """A store whose public methods each run in an X-Ray subsegment ``store.<method>``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if name.startswith("_") or not callable(attribute):
            return attribute

        @functools.wraps(attribute)
        def call(*args: Any, **kwargs: Any) -> Any:
            with traced(f"store.{name}"):
                return attribute(*args, **kwargs)

        return call


def traced_store(store: Store) -> Store:
    """``store`` with its calls traced when tracing is on, else ``store`` itself."""
    if not on_lambda():
        return store
    # Duck-typed: every caller goes through the Store interface (no isinstance on it).
    return cast("Store", _TracedStore(store))


def instrument(handler: LambdaHandler, default_service: str) -> LambdaHandler:
    """Wrap a Lambda handler with Powertools' logger, metrics and tracer (on Lambda only).

    ``default_service``: the function's name when POWERTOOLS_SERVICE_NAME is not set.
    Outside Lambda the handler is returned unchanged.
    """
    if not on_lambda():
        return handler
    from aws_lambda_powertools import Metrics, Tracer
    from aws_lambda_powertools.logging import correlation_paths

    service = logs.service_name(default_service)
    logger = logs.lambda_logger()
    metrics = Metrics(namespace=os.environ.get(NAMESPACE_ENV) or NAMESPACE, service=service)
    # Only botocore is patched (S3 and DynamoDB calls): patch_all would also wrap sqlite3,
    # httplib and others the functions do not use on AWS.
    tracer = Tracer(service=service, patch_modules=("botocore",))
    # A route with nothing to count (/health, /model...) is no reason for a warning a call.
    warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
    _state.metrics, _state.tracer = metrics, tracer

    @functools.wraps(handler)
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        _state.invoking = True
        try:
            return handler(event, context)
        finally:
            _state.invoking = False

    # Responses hold scores and, for some routes, an applicant's inputs: never in a trace.
    wrapped: Any = tracer.capture_lambda_handler(lambda_handler, capture_response=False)
    wrapped = metrics.log_metrics(wrapped, capture_cold_start_metric=True)
    if logger is not None:
        wrapped = logger.inject_lambda_context(
            wrapped,
            correlation_id_path=correlation_paths.API_GATEWAY_HTTP,
            log_event=False,
            clear_state=True,
        )
    return cast(LambdaHandler, wrapped)
