"""Settings, from the environment (`PHASELOG_` prefix), and their storage mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from api import database_url
from domain.webhooks import RETRY_SECONDS
from storage.api_keys import MIN_KEY_LENGTH

SQLITE_RECORDER = "storage.sqlite:SQLitePhaselogRecorder"
POSTGRES_RECORDER = "storage.postgres:PostgresPhaselogRecorder"


class Settings(BaseSettings):
    """Everything phaselog reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="PHASELOG_", frozen=True)

    database_url: str = "sqlite:///phaselog.db"
    pipelines_dir: Path | None = None
    admin_key: SecretStr | None = None
    pool_size: int = Field(default=8, ge=1)
    max_body_bytes: int = Field(default=5_000_000, ge=1024)
    report_wait_seconds: float = Field(default=5.0, ge=0)
    # How often the server closes idle deals under their pipeline's expiry policy;
    # 0 turns the sweeper off.
    sweep_interval_seconds: float = Field(default=300.0, ge=0)
    # FastAPI's OpenTelemetry spans and metrics, for a deployment that configures
    # an OpenTelemetry provider. Off, its per-request checks cost nothing (~8 % of
    # the app's CPU on the busiest route when left on without a provider).
    telemetry: bool = False
    # Webhooks (api/webhooks/): a receiver on a loopback, private, link-local,
    # multicast or unspecified address is refused unless this allows it.
    webhooks_allow_private: bool = False
    # Seconds between a failed attempt and the next (each stretched by up to
    # 20 % either way); after the last, the delivery has failed. Standard
    # Webhooks' schedule: ~3 days. Written `5,300,1800` in the environment.
    webhook_retry_seconds: Annotated[tuple[float, ...], NoDecode] = RETRY_SECONDS
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # Deliveries in flight at once (to different deals or subscriptions).
    webhook_senders: int = Field(default=8, ge=1)

    @field_validator("database_url")
    @classmethod
    def check_url(cls, value: str) -> str:
        database_url.check(value)
        return value

    @field_validator("webhook_retry_seconds", mode="before")
    @classmethod
    def split_seconds(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(float(v) for v in value.split(",") if v.strip())
        return value

    @field_validator("webhook_retry_seconds")
    @classmethod
    def check_seconds(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(v < 0 for v in value):
            raise ValueError("seconds may not be negative")
        return value

    @field_validator("admin_key")
    @classmethod
    def check_admin_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_KEY_LENGTH:
            raise ValueError(
                f"must be {MIN_KEY_LENGTH} characters or more (got "
                f"{len(value.get_secret_value())})"
            )
        return value

    @property
    def is_postgres(self) -> bool:
        return not database_url.is_sqlite(self.database_url)


def eventsourcing_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing environment for `settings.database_url`."""
    url = urlsplit(settings.database_url)
    common = {
        "AGGREGATE_CACHE_MAXSIZE": "20000",
        "CREATE_TABLE": "y",
    }
    if url.scheme == "sqlite":
        path = unquote(url.path)
        # sqlite:///rel.db -> "rel.db"; sqlite:////abs.db -> "/abs.db"
        db_name = path[1:] if path.startswith("/") else path
        if db_name != ":memory:" and not db_name.startswith("file:"):
            db_name = str(Path(db_name))
        return {
            **common,
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": db_name,
            "SQLITE_LOCK_TIMEOUT": "30",
            "APPLICATION_RECORDER_TOPIC": SQLITE_RECORDER,
        }
    where = database_url.postgres(settings.database_url)
    return {
        **common,
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": where.dbname,
        "POSTGRES_HOST": where.host,
        "POSTGRES_PORT": where.port,
        "POSTGRES_USER": where.user,
        "POSTGRES_PASSWORD": where.password,
        "POSTGRES_SCHEMA": where.schema,
        "POSTGRES_POOL_SIZE": str(settings.pool_size),
        "POSTGRES_MAX_OVERFLOW": str(settings.pool_size),
        "POSTGRES_CONNECT_TIMEOUT": "10",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "30",
        "POSTGRES_LOCK_TIMEOUT": "10",
        "POSTGRES_PRE_PING": "y",
        "APPLICATION_RECORDER_TOPIC": POSTGRES_RECORDER,
    }
