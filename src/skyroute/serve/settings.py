"""Server settings from environment variables (the names users already write).

Everything has a default that needs nothing installed: SQLite and model files live under
``SKYROUTE_DATA_DIR`` (default ``./.skyroute``), decisions go through ``greedy``; PostgreSQL is
one URL away.

The settings are a pydantic-settings model. Each field names its environment variable as its
``validation_alias``; adding a setting is one field here. The environment is read in one place,
:meth:`Settings.from_env`: ``Settings(...)`` with keyword arguments (tests, embedding code)
never picks up the process environment by surprise. A bad value is a ``ConfigError`` naming the
variable, and outside development (``SKYROUTE_ENV=production``) a placeholder admin token stops
the server at start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticUseDefault
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

from skyroute.errors import ConfigError

ENVIRONMENTS = ("development", "production")
#: Admin tokens shorter than this are refused outside development.
MIN_ADMIN_TOKEN_CHARS = 16
#: Values people leave in place of a secret (compared lower-cased, stripped).
PLACEHOLDER_TOKENS = frozenset(
    {
        "admin",
        "changeme",
        "change-me",
        "change_me",
        "changethis",
        "default",
        "example",
        "password",
        "secret",
        "test",
        "token",
    }
)
_TOKEN_FIX = (
    "set SKYROUTE_ADMIN_TOKEN to a random secret of at least 16 characters, e.g. the output of "
    "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`, or unset it to disable "
    "tenant management"
)

CommaList = Annotated[tuple[str, ...], NoDecode]


def placeholder_reason(token: str) -> str | None:
    """Why ``token`` is not a real secret, or None when it may be one."""
    value = token.strip()
    if not value:
        return "it is empty"
    if value.lower() in PLACEHOLDER_TOKENS:
        return f"{value!r} is a well-known placeholder"
    if len(set(value)) == 1:
        return "it repeats one character"
    if len(value) < MIN_ADMIN_TOKEN_CHARS:
        return f"it has {len(value)} characters, fewer than {MIN_ADMIN_TOKEN_CHARS}"
    return None


def _var(name: str, *more: str) -> Any:
    """The environment variable(s) a field is read from (the first one wins)."""
    return AliasChoices(name, *more) if more else name


class Settings(BaseSettings):
    """Everything the server reads from its environment."""

    model_config = SettingsConfigDict(
        frozen=True,
        case_sensitive=True,
        env_ignore_empty=True,
        validate_by_name=True,
        validate_by_alias=True,
        extra="ignore",
    )

    host: str = Field("127.0.0.1", validation_alias=_var("ML_SERVER_HOST"))
    port: int = Field(8000, ge=1, le=65535, validation_alias=_var("ML_SERVER_PORT"))
    workers: int = Field(1, ge=1, validation_alias=_var("ML_SERVER_WORKERS"))
    environment: Literal["development", "production"] = Field(
        "development", validation_alias=_var("SKYROUTE_ENV")
    )
    data_dir: Path = Field(Path(".skyroute"), validation_alias=_var("SKYROUTE_DATA_DIR"))
    database_url: str = Field("", validation_alias=_var("SKYROUTE_DATABASE_URL", "DATABASE_URL"))
    model_upload_dir: Path = Field(
        default_factory=lambda data: data["data_dir"] / "models",
        validation_alias=_var("MODEL_UPLOAD_DIR"),
    )
    engine_dir: Path = Field(
        default_factory=lambda data: data["data_dir"] / "engines",
        validation_alias=_var("DECISION_ENGINE_DIR"),
    )
    #: Checked against the engine registry at start-up (``engines.registry.active_engines``).
    engine_active: str = Field(
        "greedy", min_length=1, validation_alias=_var("DECISION_ENGINE_ACTIVE")
    )
    admin_token: str | None = Field(None, validation_alias=_var("SKYROUTE_ADMIN_TOKEN"))
    allow_unsafe_models: bool = Field(False, validation_alias=_var("SKYROUTE_ALLOW_UNSAFE_MODELS"))
    allow_model_training: bool = Field(False, validation_alias=_var("ALLOW_MODEL_TRAINING"))
    max_upload_mb: int = Field(200, ge=1, validation_alias=_var("SKYROUTE_MAX_UPLOAD_MB"))
    max_request_kb: int = Field(1024, ge=1, validation_alias=_var("SKYROUTE_MAX_REQUEST_KB"))
    #: How long each process remembers an API key's tenant (0: not at all); a revoked key
    #: keeps working for at most this long.
    key_cache_seconds: int = Field(2, ge=0, validation_alias=_var("SKYROUTE_KEY_CACHE_SECONDS"))
    # The engine sandbox: live workers of all tenants together, one tenant's calls in flight
    # (and workers) and queued, the wall clock of one call and of importing an engine.
    engine_pool_size: int = Field(8, ge=1, validation_alias=_var("SKYROUTE_ENGINE_WORKERS"))
    engine_tenant_concurrency: int = Field(
        2, ge=1, validation_alias=_var("SKYROUTE_ENGINE_TENANT_CONCURRENCY")
    )
    engine_tenant_queue: int = Field(4, ge=0, validation_alias=_var("SKYROUTE_ENGINE_TENANT_QUEUE"))
    engine_timeout_s: float = Field(1.0, gt=0)
    engine_import_timeout_s: float = Field(5.0, gt=0)
    gap_filler_enabled: bool = Field(True, validation_alias=_var("GAP_FILLER_ENABLED"))
    gap_filler_aws_region: str = Field("us-east-1", validation_alias=_var("GAP_FILLER_AWS_REGION"))
    gap_filler_instance_types: CommaList = Field(
        ("m5.large", "m5.xlarge", "c5.large"), validation_alias=_var("GAP_FILLER_INSTANCE_TYPES")
    )
    gap_filler_regions: CommaList = Field(
        ("us-east-1", "us-west-2", "eu-west-1"), validation_alias=_var("GAP_FILLER_REGIONS")
    )
    gap_filler_historic_days_max: int = Field(
        90, ge=1, validation_alias=_var("GAP_FILLER_HISTORIC_DAYS_MAX")
    )
    gap_filler_run_on_startup: bool = Field(
        False, validation_alias=_var("GAP_FILLER_RUN_ON_STARTUP")
    )
    gap_filler_lease_seconds: int = Field(
        120, ge=1, validation_alias=_var("GAP_FILLER_LEASE_SECONDS")
    )
    # --- Admission control and database pool (issue 10, speed) ---------------------------
    #: Requests one process works on at once; more are refused at once with 503.
    max_in_flight: int = Field(64, ge=1, validation_alias=_var("SKYROUTE_MAX_IN_FLIGHT"))
    #: Requests of one tenant in flight in one process; more are refused with 429.
    max_in_flight_per_tenant: int = Field(
        48, ge=1, validation_alias=_var("SKYROUTE_MAX_IN_FLIGHT_PER_TENANT")
    )
    #: The Retry-After (seconds) sent with those refusals.
    retry_after_s: int = Field(1, ge=1, validation_alias=_var("SKYROUTE_RETRY_AFTER_SECONDS"))
    #: Seconds a request may wait for a pooled database connection before a 503.
    db_pool_timeout_s: float = Field(5.0, gt=0)
    # --- Central platform (issue 12): decisions forwarded through a persisted outbox -------
    central_platform_url: str | None = Field(None, validation_alias=_var("CENTRAL_PLATFORM_URL"))
    central_platform_api_key: str | None = Field(
        None, validation_alias=_var("CENTRAL_PLATFORM_API_KEY")
    )
    #: Retries wait this long, doubling per failed attempt up to ``central_retry_max_s``.
    central_retry_base_s: float = Field(1.0, gt=0)
    central_retry_max_s: float = Field(300.0, gt=0)
    #: Events sent per request to the central platform; how long the sender idles when none wait.
    central_batch: int = Field(100, ge=1)
    central_poll_s: float = Field(1.0, gt=0)
    # --- Live streams (issue 12) -----------------------------------------------------------
    #: ``memory``: events reach the subscribers of the process that decided; ``redis``: every
    #: process and replica, through Redis pub/sub.
    local_prediction_store: Literal["memory", "redis"] = Field(
        "memory", validation_alias=_var("LOCAL_PREDICTION_STORE")
    )
    redis_host: str = Field("127.0.0.1", validation_alias=_var("REDIS_HOST"))
    redis_port: int = Field(6379, ge=1, le=65535, validation_alias=_var("REDIS_PORT"))
    live_channel: str = Field(
        "skyroute:decisions", min_length=1, validation_alias=_var("SKYROUTE_LIVE_CHANNEL")
    )
    #: Events one stream subscriber may have waiting; a subscriber that falls further behind
    #: is dropped (close code 1013) rather than slowing anyone down.
    live_queue_size: int = Field(1000, ge=1, validation_alias=_var("SKYROUTE_LIVE_QUEUE_SIZE"))
    #: Seconds between scheduled predictions of every live series (0: no scheduler;
    #: ``POST /predictions/run`` still predicts on demand). Processes and replicas share the
    #: slots, so a series is predicted once per interval whatever their number.
    live_prediction_interval_s: float = Field(
        300.0, ge=0, validation_alias=_var("LIVE_PREDICTION_INTERVAL_SECONDS")
    )
    # --- Drift (issue 12): inputs against the bundle's training reference, errors over time --
    #: Decisions (and actuals) per drift window: the last this many are compared.
    drift_window_size: int = Field(
        500, ge=20, le=100_000, validation_alias=_var("DRIFT_WINDOW_SIZE")
    )
    #: A feature drifts when its population stability index exceeds this ...
    drift_psi_threshold: float = Field(
        0.2, gt=0, le=10, validation_alias=_var("DRIFT_PSI_THRESHOLD")
    )
    #: ... and the two-sample Kolmogorov-Smirnov test's p-value is below this.
    drift_p_value: float = Field(0.01, gt=0, lt=1, validation_alias=_var("DRIFT_P_VALUE"))
    #: A process checks the tenants it stored decisions or actuals for at most this often.
    drift_check_interval_s: float = Field(
        5.0, gt=0, validation_alias=_var("DRIFT_CHECK_INTERVAL_SECONDS")
    )
    # --- Autoscale recommendations (docs/deploy.md, "Serving the recommendation") ----------
    #: Series a tenant may name: each is one ``skyroute_recommended_replicas`` label set.
    autoscale_max_series: int = Field(
        50, ge=1, le=10_000, validation_alias=_var("SKYROUTE_AUTOSCALE_MAX_SERIES")
    )

    # --- Tracing (issue 14): OpenTelemetry spans over OTLP/HTTP, off without an endpoint ----
    #: The collector's base URL (``/v1/traces`` is appended), as every OpenTelemetry SDK reads it.
    otel_endpoint: str | None = Field(None, validation_alias=_var("OTEL_EXPORTER_OTLP_ENDPOINT"))
    #: The full traces URL; wins over ``OTEL_EXPORTER_OTLP_ENDPOINT``.
    otel_traces_endpoint: str | None = Field(
        None, validation_alias=_var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )
    #: Only OTLP over HTTP with protobuf bodies is installed (no gRPC exporter).
    otel_protocol: Literal["http/protobuf"] = Field(
        "http/protobuf",
        validation_alias=_var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"),
    )
    otel_service_name: str = Field(
        "skyroute-server", min_length=1, validation_alias=_var("OTEL_SERVICE_NAME")
    )
    #: ``OTEL_SDK_DISABLED=true`` switches tracing off whatever the endpoint.
    otel_sdk_disabled: bool = Field(False, validation_alias=_var("OTEL_SDK_DISABLED"))
    #: One export's time limit (retries included); shutdown waits at most this plus a second.
    trace_export_timeout_s: float = Field(
        2.0, gt=0, le=30, validation_alias=_var("SKYROUTE_TRACE_EXPORT_TIMEOUT_SECONDS")
    )

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'skyroute.db').resolve()}"

    @property
    def traces_url(self) -> str | None:
        """Where spans are sent (OTLP/HTTP), or None: tracing off."""
        if self.otel_sdk_disabled:
            return None
        if self.otel_traces_endpoint:
            return self.otel_traces_endpoint
        if self.otel_endpoint:
            return self.otel_endpoint.rstrip("/") + "/v1/traces"
        return None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read ``env`` (default: the process environment); a bad value is a ConfigError
        naming the variable."""
        env = os.environ if env is None else env
        values = _MappingSource(cls, env)()
        if "SKYROUTE_ADMIN_TOKEN" in env and "SKYROUTE_ADMIN_TOKEN" not in values:
            values["SKYROUTE_ADMIN_TOKEN"] = env["SKYROUTE_ADMIN_TOKEN"]  # set but blank
        return cls(**values)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only keyword arguments: the environment is read by :meth:`from_env` alone."""
        return (init_settings,)

    @field_validator("gap_filler_instance_types", "gap_filler_regions", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        """``a, b,c`` as written in the environment; an empty list means the default."""
        if isinstance(value, str):
            items = tuple(item.strip() for item in value.split(",") if item.strip())
            if not items:
                raise PydanticUseDefault()
            return items
        return value

    @field_validator("otel_endpoint", "otel_traces_endpoint")
    @classmethod
    def _http_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A collector URL over HTTP(S): anything else would fail only at the first export."""
        if value is None or value.startswith(("http://", "https://")):
            return value
        var, _ = _variable(str(info.field_name))
        raise ConfigError(
            f"{var}={value!r} is not an http:// or https:// URL",
            f"set {var} to the collector's OTLP/HTTP address, e.g. http://otel-collector:4318, "
            "or unset it to switch tracing off",
        )

    @field_validator("allow_model_training")
    @classmethod
    def _never_trains(cls, value: bool) -> bool:
        if value:
            raise ConfigError(
                "ALLOW_MODEL_TRAINING=true, but the decision server never trains",
                "train with `skyroute train ...` and upload the bundle; unset ALLOW_MODEL_TRAINING",
            )
        return value

    @field_validator("admin_token")
    @classmethod
    def _no_placeholder_token(cls, token: str | None, info: ValidationInfo) -> str | None:
        """Outside development a placeholder token is refused; in development a blank one
        means what an unset one does (tenant management disabled)."""
        if token is None:
            return None
        reason = placeholder_reason(token)
        if reason is None:
            return token
        environment = info.data.get("environment", "development")
        if environment == "development":
            return token if token.strip() else None
        raise ConfigError(
            f"SKYROUTE_ADMIN_TOKEN is refused with SKYROUTE_ENV={environment}: {reason}",
            _TOKEN_FIX,
        )

    @model_validator(mode="wrap")
    @classmethod
    def _as_config_error(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """pydantic's errors, said as one ConfigError naming the environment variable."""
        try:
            return handler(data)
        except ValidationError as exc:
            raise _config_error(exc) from None


def _default_of(field: str) -> Any:
    info = Settings.model_fields.get(field)
    default = info.get_default(call_default_factory=False) if info is not None else None
    return default if isinstance(default, int | float | str) else None


def _variable(key: str) -> tuple[str, str]:
    """(environment variable, field name) for an error's location (a field or a variable)."""
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        names = list(alias.choices) if isinstance(alias, AliasChoices) else [alias or name]
        if key == name or key in names:
            return str(names[0]), name
    return key, key


def _config_error(exc: ValidationError) -> ConfigError:
    error = exc.errors()[0]
    var, field = _variable(str(error["loc"][0]) if error["loc"] else "")
    raw, kind, ctx = error.get("input"), error["type"], error.get("ctx") or {}
    default = _default_of(field)
    example = f"set {var} to e.g. {default}" if default is not None else f"check {var}"
    if kind.startswith("bool"):
        return ConfigError(f"{var}={raw!r} is not a boolean", f"set {var} to true or false")
    if kind.startswith("int"):
        return ConfigError(f"{var}={raw!r} is not an integer", example)
    if kind.startswith("float"):
        return ConfigError(f"{var}={raw!r} is not a number", example)
    if kind in ("greater_than_equal", "greater_than"):
        return ConfigError(f"{var}={raw} is below {ctx.get('ge', ctx.get('gt'))}", example)
    if kind in ("less_than_equal", "less_than"):
        return ConfigError(f"{var}={raw} is above {ctx.get('le', ctx.get('lt'))}", example)
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        return ConfigError(f"{var}={raw!r} is not one of {expected}", f"set {var} to {expected}")
    return ConfigError(f"{var}={raw!r}: {error['msg']}", example)


class _MappingSource(EnvSettingsSource):
    """pydantic-settings' environment source over any mapping (``from_env``'s argument)."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._mapping = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._mapping, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )
