"""Server settings: the environment variable names users write, errors naming the variable, and
no placeholder admin token outside development."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyroute.errors import ConfigError
from skyroute.serve.settings import Settings

STRONG = "k3J9-a8sd_9asdkj2xQ"


def test_no_environment_means_defaults_that_need_nothing_installed() -> None:
    settings = Settings.from_env({})
    assert settings.engine_active == "greedy"
    assert settings.environment == "development"
    assert settings.admin_token is None
    assert settings.db_url.startswith("sqlite:///") and settings.db_url.endswith("skyroute.db")
    assert settings.model_upload_dir == Path(".skyroute/models")


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"),
    [
        ("ML_SERVER_HOST", "0.0.0.0", "host", "0.0.0.0"),
        ("ML_SERVER_PORT", "9001", "port", 9001),
        ("ML_SERVER_WORKERS", "4", "workers", 4),
        ("SKYROUTE_ENV", "production", "environment", "production"),
        ("SKYROUTE_DATABASE_URL", "postgresql://u@h/db", "database_url", "postgresql://u@h/db"),
        ("DATABASE_URL", "postgresql://u@h/db", "database_url", "postgresql://u@h/db"),
        ("MODEL_UPLOAD_DIR", "/srv/models", "model_upload_dir", Path("/srv/models")),
        ("DECISION_ENGINE_DIR", "/srv/engines", "engine_dir", Path("/srv/engines")),
        ("DECISION_ENGINE_ACTIVE", "hierarchical", "engine_active", "hierarchical"),
        ("SKYROUTE_ADMIN_TOKEN", STRONG, "admin_token", STRONG),
        ("SKYROUTE_ALLOW_UNSAFE_MODELS", "yes", "allow_unsafe_models", True),
        ("SKYROUTE_MAX_UPLOAD_MB", "5", "max_upload_mb", 5),
        ("LIVE_PREDICTION_INTERVAL_SECONDS", "0", "live_prediction_interval_s", 0.0),
        ("LIVE_PREDICTION_INTERVAL_SECONDS", "60", "live_prediction_interval_s", 60.0),
        ("SKYROUTE_MAX_REQUEST_KB", "64", "max_request_kb", 64),
        ("SKYROUTE_ENGINE_WORKERS", "3", "engine_pool_size", 3),
        ("GAP_FILLER_ENABLED", "off", "gap_filler_enabled", False),
        ("GAP_FILLER_AWS_REGION", "eu-west-1", "gap_filler_aws_region", "eu-west-1"),
        ("GAP_FILLER_INSTANCE_TYPES", "c5.large, m5.large", "gap_filler_instance_types",
         ("c5.large", "m5.large")),
        ("GAP_FILLER_REGIONS", "us-east-1,", "gap_filler_regions", ("us-east-1",)),
        ("GAP_FILLER_HISTORIC_DAYS_MAX", "30", "gap_filler_historic_days_max", 30),
        ("GAP_FILLER_RUN_ON_STARTUP", "1", "gap_filler_run_on_startup", True),
        ("GAP_FILLER_LEASE_SECONDS", "15", "gap_filler_lease_seconds", 15),
        ("DRIFT_WINDOW_SIZE", "200", "drift_window_size", 200),
        ("DRIFT_PSI_THRESHOLD", "0.25", "drift_psi_threshold", 0.25),
        ("DRIFT_P_VALUE", "0.05", "drift_p_value", 0.05),
        ("DRIFT_CHECK_INTERVAL_SECONDS", "30", "drift_check_interval_s", 30.0),
    ],
)  # fmt: skip
def test_each_variable_sets_its_setting(
    variable: str, value: str, field: str, expected: object
) -> None:
    env = {variable: value}
    if variable == "SKYROUTE_ENV":
        env["SKYROUTE_ADMIN_TOKEN"] = STRONG
    assert getattr(Settings.from_env(env), field) == expected


def test_the_data_dir_moves_what_is_not_set_on_its_own() -> None:
    settings = Settings.from_env({"SKYROUTE_DATA_DIR": "/data", "MODEL_UPLOAD_DIR": ""})
    assert settings.model_upload_dir == Path("/data/models")
    assert settings.engine_dir == Path("/data/engines")
    assert settings.db_url == "sqlite:////data/skyroute.db"


def test_blank_values_mean_the_default() -> None:
    blank = Settings.from_env(
        {"ML_SERVER_PORT": "", "DECISION_ENGINE_ACTIVE": "", "GAP_FILLER_REGIONS": " , "}
    )
    assert blank.port == 8000 and blank.engine_active == "greedy"
    assert blank.gap_filler_regions == Settings().gap_filler_regions


def test_the_primary_database_variable_wins() -> None:
    env = {"SKYROUTE_DATABASE_URL": "postgresql://a@h/one", "DATABASE_URL": "postgresql://b@h/two"}
    assert Settings.from_env(env).database_url == "postgresql://a@h/one"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ML_SERVER_PORT": "eighty"}, "ML_SERVER_PORT='eighty' is not an integer"),
        ({"ML_SERVER_PORT": "0"}, "ML_SERVER_PORT=0 is below 1"),
        ({"ML_SERVER_PORT": "70000"}, "ML_SERVER_PORT=70000 is above 65535"),
        ({"ML_SERVER_WORKERS": "-2"}, "ML_SERVER_WORKERS=-2 is below 1"),
        ({"GAP_FILLER_ENABLED": "maybe"}, "GAP_FILLER_ENABLED='maybe' is not a boolean"),
        ({"GAP_FILLER_HISTORIC_DAYS_MAX": "0"}, "GAP_FILLER_HISTORIC_DAYS_MAX=0 is below 1"),
        ({"SKYROUTE_ENV": "prod"}, "SKYROUTE_ENV='prod' is not one of"),
        ({"ALLOW_MODEL_TRAINING": "true"}, "ALLOW_MODEL_TRAINING=true, but the decision server"),
        (
            {"LIVE_PREDICTION_INTERVAL_SECONDS": "-5"},
            "LIVE_PREDICTION_INTERVAL_SECONDS=-5 is below 0",
        ),
        (
            {"LIVE_PREDICTION_INTERVAL_SECONDS": "often"},
            "LIVE_PREDICTION_INTERVAL_SECONDS='often' is not a number",
        ),
    ],
)
def test_a_bad_value_is_a_config_error_naming_the_variable(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert caught.value.message.startswith(message), caught.value.message
    assert caught.value.fix


def test_keyword_arguments_are_checked_the_same_way() -> None:
    with pytest.raises(ConfigError, match="ML_SERVER_PORT='x' is not an integer"):
        Settings(port="x")  # type: ignore[arg-type]


def test_keyword_construction_never_reads_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ML_SERVER_PORT", "9999")
    monkeypatch.setenv("DECISION_ENGINE_ACTIVE", "rules")
    assert Settings(data_dir=Path("/d")).port == 8000
    assert Settings().engine_active == "greedy"
    assert Settings.from_env().port == 9999  # the environment is read here, and only here


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("changeme", "placeholder"),
        ("ChangeThis", "placeholder"),
        ("admin", "placeholder"),
        ("secret", "placeholder"),
        ("password", "placeholder"),
        ("tooshort12", "10 characters, fewer than 16"),
        ("aaaaaaaaaaaaaaaaaaaaaaaa", "repeats one character"),
    ],
)
def test_production_refuses_a_placeholder_admin_token(token: str, reason: str) -> None:
    env = {"SKYROUTE_ENV": "production", "SKYROUTE_ADMIN_TOKEN": token}
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert "SKYROUTE_ADMIN_TOKEN" in caught.value.message
    assert reason in caught.value.message
    assert "token_urlsafe" in caught.value.fix
    with pytest.raises(ConfigError):
        Settings(environment="production", admin_token=token)


def test_production_accepts_a_real_token_or_none() -> None:
    assert Settings.from_env({"SKYROUTE_ENV": "production", "SKYROUTE_ADMIN_TOKEN": STRONG})
    assert Settings.from_env({"SKYROUTE_ENV": "production"}).admin_token is None


def test_development_accepts_placeholders_and_a_blank_token_disables_admin() -> None:
    assert Settings.from_env({"SKYROUTE_ADMIN_TOKEN": "changeme"}).admin_token == "changeme"
    assert Settings.from_env({"SKYROUTE_ADMIN_TOKEN": ""}).admin_token is None
    assert Settings(admin_token="  ").admin_token is None


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DRIFT_WINDOW_SIZE", "5", "DRIFT_WINDOW_SIZE=5 is below 20"),
        ("DRIFT_PSI_THRESHOLD", "0", "DRIFT_PSI_THRESHOLD=0 is below 0"),
        ("DRIFT_P_VALUE", "1", "DRIFT_P_VALUE=1 is above 1"),
        ("DRIFT_P_VALUE", "often", "DRIFT_P_VALUE='often' is not a number"),
    ],
)
def test_drift_settings_are_validated(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        Settings.from_env({variable: value})
    assert variable in caught.value.fix
