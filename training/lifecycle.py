"""`creditscore activate` and `creditscore rollback`: switch the active model version.

Both are as atomic as publish (:meth:`Store.activate_recorded`: the history event, then the
pointer, under the publish lock on the local store, behind a conditional PUT on S3), check
every file of the version they activate against its recorded sha256 first, and are listed in
``GET /model``'s history with who, when and why. The MLflow registry alias ``champion``
follows the active version (:func:`training.tracking.follow_champion`; a tracking store that
does not know the version only logs a warning).

A rollback reactivates the version that was active before the current one; rolling back
again walks further back (:func:`creditscore_common.store.base.rollback_target`).
"""

from __future__ import annotations

import getpass
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from creditscore_common.errors import ModelUnavailableError
from creditscore_common.store import Store
from creditscore_common.store.base import LifecycleAction, rollback_target
from creditscore_common.version import METADATA_FILE, verify_version

log = logging.getLogger(__name__)


class LifecycleError(ValueError):
    """A lifecycle command that cannot be done as asked (the message says why): exit 2."""


def default_actor() -> str:
    """Who runs the command: ``GITHUB_ACTOR`` in a workflow, else the login name."""
    for name in ("GITHUB_ACTOR", "USER", "LOGNAME"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name at all (a bare container)
        return "unknown"


@dataclass(frozen=True)
class Switch:
    """What a lifecycle command did to the active version."""

    version: str
    previous: str | None
    changed: bool


def verify_in_store(store: Store, version: str) -> None:
    """Check every file of ``version`` in the store (LifecycleError if it is not there)."""
    try:
        verify_version(store.model_dir(version))
    except (FileNotFoundError, ModelUnavailableError) as error:
        raise LifecycleError(
            f"model version {version} is not in the store (no {METADATA_FILE}): publish it "
            "first (creditscore publish --no-activate)"
        ) from error


def switch_to(
    store: Store,
    version: str,
    action: LifecycleAction,
    by: str,
    reason: str,
    details: Mapping[str, Any] | None = None,
) -> Switch:
    """Verify ``version``, make it active with its history event, move ``champion`` to it.

    The alias is set even when the version already was active: rerunning ``activate`` on
    the active version realigns a registry that missed a switch.
    """
    from training import tracking

    verify_in_store(store, version)
    previous = store.active_version()
    with store.publishing(version):
        try:
            changed = store.activate_recorded(version, action, by, reason, details)
        except ValueError as error:  # not in the store (after the check: removed meanwhile)
            raise LifecycleError(str(error)) from error
    tracking.follow_champion(version)
    return Switch(version=version, previous=previous, changed=changed)


def activate(store: Store, version: str, by: str, reason: str) -> Switch:
    """``creditscore activate VERSION``: make a version of the store the active one."""
    return switch_to(store, version, "activate", by, reason)


def rollback(store: Store, by: str, reason: str) -> Switch:
    """``creditscore rollback``: reactivate the version active before the current one."""
    if not reason.strip():
        raise LifecycleError("rollback needs a reason: --reason TEXT")
    active = store.active_version()
    target = rollback_target(store.model_history(), active)
    if target is None:
        raise LifecycleError(
            f"no earlier active version is recorded in the model history (active: {active}): "
            "name the version with `creditscore activate VERSION`"
        )
    return switch_to(store, target, "rollback", by, reason)
