"""Settings of the functions and the local server, read from the environment.

The environment variable names are the ones template.yaml sets on every function; a test
checks that the two stay in step.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Token refused outside local development: it is the placeholder in docs and examples.
PLACEHOLDER_TOKEN = "change-me"


class Settings(BaseSettings):
    """Typed configuration, validated once per container (cold start)."""

    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", frozen=True, case_sensitive=False
    )

    store_backend: Literal["local", "aws"] = Field("local")
    local_store_path: str = Field("build/store")
    model_bucket: str = Field("")
    clients_table: str = Field("")
    decisions_table: str = Field("")
    aws_region: str = Field("eu-west-3")
    #: token: a shared bearer token (local server); jwt: API Gateway's JWT authorizer.
    auth_mode: Literal["token", "jwt"] = Field("token")
    api_token: str = Field("")
    #: Seconds between two looks at the store's active model version.
    model_refresh_seconds: float = Field(60.0, ge=0)
    #: Where the aws backend caches model files (the only writable place on Lambda).
    model_cache_dir: str = Field("/tmp/creditscore-models")
    log_level: str = Field("INFO")
    #: Where the score function writes one JSON line per served score: "" (off), "stdout"
    #: (Lambda: CloudWatch) or a file path (the local server's --traffic-log).
    traffic_log: str = Field("")

    @model_validator(mode="after")
    def _check_backend(self) -> Settings:
        if self.store_backend == "aws":
            missing = [
                name
                for name, value in (
                    ("MODEL_BUCKET", self.model_bucket),
                    ("CLIENTS_TABLE", self.clients_table),
                    ("DECISIONS_TABLE", self.decisions_table),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"STORE_BACKEND=aws needs {', '.join(missing)}")
        weak_token = self.api_token in ("", PLACEHOLDER_TOKEN)
        if self.auth_mode == "token" and self.store_backend == "aws" and weak_token:
            raise ValueError("AUTH_MODE=token on aws needs a real API_TOKEN")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (read once)."""
    return Settings()
