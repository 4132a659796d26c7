"""The model provider's memory of an error: kept a refresh period, or until its Retry-After.

A version refused for its content is refused until the next look (every request the same
answer); a store that was only busy or out of reach is looked at again as soon as its
Retry-After has passed, so a function recovers within seconds, not a refresh period.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from creditscore_common.errors import ModelUnavailableError, StoreUnavailableError
from creditscore_common.provider import ModelProvider
from creditscore_common.store.aws import StoreBusyError


class SilentStore:
    """A store whose every look fails with ``error`` (None: no active version)."""

    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.looks = 0

    def active_version(self) -> str | None:
        self.looks += 1
        if self.error is not None:
            raise self.error
        return None

    def model_dir(self, version: str, files: Any = None) -> Path:  # pragma: no cover
        raise AssertionError("no version is ever active here")


def provider(store: SilentStore, clock: list[float]) -> ModelProvider:
    return ModelProvider(store, refresh_seconds=60, clock=lambda: clock[0])  # type: ignore[arg-type]


def test_a_busy_store_is_looked_at_again_after_its_retry_after() -> None:
    clock = [0.0]
    store = SilentStore(StoreBusyError("reading the model failed: S3 is busy", retry_after=2))
    models = provider(store, clock)
    with pytest.raises(StoreBusyError):
        models.current()
    clock[0] = 1.0
    with pytest.raises(StoreBusyError):
        models.current()
    assert store.looks == 1, "within its Retry-After the error is answered from memory"
    clock[0] = 2.5
    store.error = None
    with pytest.raises(ModelUnavailableError, match="no model version is active"):
        models.current()
    assert store.looks == 2, "looked at again after 2 s, not after the 60 s refresh period"


@pytest.mark.parametrize(
    "error",
    [StoreUnavailableError("store.sqlite was deleted"), ModelUnavailableError("no version")],
)
def test_other_errors_are_kept_for_the_refresh_period(error: Exception) -> None:
    clock = [0.0]
    store = SilentStore(error)
    models = provider(store, clock)
    for moment in (0.0, 30.0, 59.0):
        clock[0] = moment
        with pytest.raises(type(error)):
            models.current()
    assert store.looks == 1
    clock[0] = 60.5
    with pytest.raises(type(error)):
        models.current()
    assert store.looks == 2
