"""The environment variables the shared package reads: the Settings fields, upper-cased.

Tests that point the functions at a store clear them all first, so that nothing from the
developer's shell (or another test) leaks in; deriving them keeps the list complete.
"""

from __future__ import annotations

import pytest

from creditscore_common.settings import Settings

SETTINGS_ENV: tuple[str, ...] = tuple(name.upper() for name in Settings.model_fields)


def clear_settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every variable Settings reads from the environment of this test."""
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
