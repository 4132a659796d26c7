"""One store interface, two backends: ``local`` (folder + SQLite) and ``aws`` (S3 + DynamoDB)."""

from __future__ import annotations

from pathlib import Path

from creditscore_common.settings import Settings
from creditscore_common.store.base import Application, Store

__all__ = ["Application", "Store", "open_store", "settings_for_store_url"]


def open_store(settings: Settings, create: bool = False) -> Store:
    """The backend the settings name (``create`` makes an empty local store if needed)."""
    if settings.store_backend == "aws":
        from creditscore_common.store.aws import AwsStore

        return AwsStore(
            bucket=settings.model_bucket,
            clients_table=settings.clients_table,
            decisions_table=settings.decisions_table,
            region=settings.aws_region,
            cache_dir=Path(settings.model_cache_dir),
        )
    from creditscore_common.store.local import LocalStore

    return LocalStore(Path(settings.local_store_path), create=create)


def settings_for_store_url(url: str, base: Settings | None = None) -> Settings:
    """Settings for a command-line store URL: ``local:PATH`` or ``aws`` (rest from env)."""
    base = base or Settings()
    if url == "aws":
        return base.model_copy(update={"store_backend": "aws"})
    if url.startswith("local:") and len(url) > len("local:"):
        return base.model_copy(
            update={"store_backend": "local", "local_store_path": url.removeprefix("local:")}
        )
    raise ValueError(f"unknown store {url!r}: use local:PATH or aws")
