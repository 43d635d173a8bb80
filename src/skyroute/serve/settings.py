"""Server settings from environment variables (the names users already write).

Everything has a default that needs nothing installed: SQLite and model files live under
``SKYROUTE_DATA_DIR`` (default ``./.skyroute``); PostgreSQL is one URL away.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from skyroute.errors import ConfigError


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean", f"set {name} to true or false")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r} is not an integer", f"set {name} to e.g. {default}"
        ) from None
    if value < minimum:
        raise ConfigError(f"{name}={value} is below {minimum}", f"set {name} to e.g. {default}")
    return value


def _list(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    return tuple(item.strip() for item in raw.split(",") if item.strip())


@dataclass(frozen=True)
class Settings:
    """Everything the server reads from its environment."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    data_dir: Path = Path(".skyroute")
    database_url: str = ""
    model_upload_dir: Path = Path(".skyroute/models")
    engine_dir: Path = Path(".skyroute/engines")
    engine_active: str | None = None
    admin_token: str | None = None
    allow_unsafe_models: bool = False
    max_upload_mb: int = 200
    max_request_kb: int = 1024
    engine_pool_size: int = 2
    engine_timeout_s: float = 1.0
    gap_filler_enabled: bool = True
    gap_filler_aws_region: str = "us-east-1"
    gap_filler_instance_types: tuple[str, ...] = ("m5.large", "m5.xlarge")
    gap_filler_regions: tuple[str, ...] = ("us-east-1", "us-west-2", "eu-west-1")
    gap_filler_historic_days_max: int = 90
    gap_filler_run_on_startup: bool = False
    gap_filler_lease_seconds: int = 120

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'skyroute.db').resolve()}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the environment; a bad value is a ConfigError naming the variable."""
        env = os.environ if env is None else env
        if _bool(env, "ALLOW_MODEL_TRAINING", False):
            raise ConfigError(
                "ALLOW_MODEL_TRAINING=true, but the decision server never trains",
                "train with `skyroute train ...` and upload the bundle; unset ALLOW_MODEL_TRAINING",
            )
        data_dir = Path(env.get("SKYROUTE_DATA_DIR") or ".skyroute")
        engine = env.get("DECISION_ENGINE_ACTIVE") or None
        return cls(
            host=env.get("ML_SERVER_HOST") or "127.0.0.1",
            port=_int(env, "ML_SERVER_PORT", 8000),
            workers=_int(env, "ML_SERVER_WORKERS", 1),
            data_dir=data_dir,
            database_url=env.get("SKYROUTE_DATABASE_URL") or env.get("DATABASE_URL") or "",
            model_upload_dir=Path(env.get("MODEL_UPLOAD_DIR") or data_dir / "models"),
            engine_dir=Path(env.get("DECISION_ENGINE_DIR") or data_dir / "engines"),
            engine_active=engine,
            admin_token=env.get("SKYROUTE_ADMIN_TOKEN") or None,
            allow_unsafe_models=_bool(env, "SKYROUTE_ALLOW_UNSAFE_MODELS", False),
            max_upload_mb=_int(env, "SKYROUTE_MAX_UPLOAD_MB", 200),
            max_request_kb=_int(env, "SKYROUTE_MAX_REQUEST_KB", 1024),
            engine_pool_size=_int(env, "SKYROUTE_ENGINE_WORKERS", 2),
            gap_filler_enabled=_bool(env, "GAP_FILLER_ENABLED", True),
            gap_filler_aws_region=env.get("GAP_FILLER_AWS_REGION") or "us-east-1",
            gap_filler_instance_types=_list(
                env, "GAP_FILLER_INSTANCE_TYPES", cls.gap_filler_instance_types
            ),
            gap_filler_regions=_list(env, "GAP_FILLER_REGIONS", cls.gap_filler_regions),
            gap_filler_historic_days_max=_int(env, "GAP_FILLER_HISTORIC_DAYS_MAX", 90),
            gap_filler_run_on_startup=_bool(env, "GAP_FILLER_RUN_ON_STARTUP", False),
            gap_filler_lease_seconds=_int(env, "GAP_FILLER_LEASE_SECONDS", 120),
        )
