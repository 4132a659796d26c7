"""Domain errors of the serving side; the API maps each to one HTTP answer (see api.py)."""

from __future__ import annotations


class CreditScoreError(Exception):
    """Base of the errors the API turns into clean JSON answers."""

    status_code = 500
    code = "internal_error"
    #: Per-field details of the answer (``details`` of the error body), if any.
    details: list[dict[str, str]] | None = None
    #: Seconds after which a retry may succeed (the answer's Retry-After header), if known.
    retry_after: int | None = None


class InsufficientApplicationError(CreditScoreError):
    """A raw application lacks the fields the model leans on most: it is not scored."""

    status_code = 422
    code = "insufficient_information"

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        self.details = [
            {"field": name, "location": f"body.application.{name}", "problem": "required"}
            for name in missing
        ]
        super().__init__(
            "too little information to score this application; missing: " + ", ".join(missing)
        )


class ClientNotFoundError(CreditScoreError, LookupError):
    """No new client with this id in the store."""

    status_code = 404
    code = "client_not_found"

    def __init__(self, client_id: int) -> None:
        self.client_id = client_id
        super().__init__(f"no client with id {client_id}")


class StoreUnavailableError(CreditScoreError):
    """The store (SQLite folder, S3 or DynamoDB) cannot be reached or read."""

    status_code = 503
    code = "store_unavailable"


class ModelUnavailableError(CreditScoreError):
    """No active model version, or the active one cannot be loaded or verified."""

    status_code = 503
    code = "model_unavailable"


class ExplanationError(CreditScoreError):
    """An explanation failed a consistency check (a bug: logged, answered with 500)."""

    status_code = 500
    code = "explanation_failed"


class DriftSummaryNotFoundError(CreditScoreError, LookupError):
    """No drift summary has been published to the store yet."""

    status_code = 404
    code = "drift_summary_not_found"
