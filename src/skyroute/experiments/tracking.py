"""MLflow: where every run of a sweep is recorded, and where a rerun finds what is finished.

Each run is an MLflow run named by ``runs.run_name`` in the sweep's experiment, with its
parameters, its metrics per step (the trainer's curves) and final, its plots and bundle as
artifacts, and tags: ``skyroute.sweep``, ``skyroute.phase``, ``skyroute.trainer``,
``skyroute.scale``, ``skyroute.config`` (the full config as JSON), ``skyroute.winner``. A run is
only ever marked FINISHED after everything of it is recorded; a run that failed -- in its
trainer or while its artifacts were written (a full disk) -- is marked FAILED with
``skyroute.reason``, and a rerun trains it again.

The default store is local (``sqlite:///out/mlflow/mlflow.db``, artifacts beside it): nothing
to install or start. ``--tracking-uri`` or ``MLFLOW_TRACKING_URI`` point anywhere MLflow can
(an MLflow server, e.g. one backed by PostgreSQL).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skyroute.errors import SkyRouteError
from skyroute.experiments.outcomes import RunOutcome
from skyroute.experiments.runs import RunPayload, RunSpec

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

DEFAULT_DIR = Path("out/mlflow")
TAG = "skyroute."


class TrackingError(SkyRouteError):
    code = "tracking_unavailable"


def default_uri(out: Path = DEFAULT_DIR) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(out / 'mlflow.db').resolve()}"


class Tracker:
    """The sweep's experiment in one MLflow store (used from the sweep's process only)."""

    def __init__(self, uri: str, experiment: str, local_dir: Path) -> None:
        self.uri, self.experiment, self.local_dir = uri, experiment, local_dir
        self._client: MlflowClient | None = None
        self._experiment_id: str | None = None

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            from mlflow.tracking import MlflowClient

            if self.uri.startswith("sqlite:///"):
                Path(self.uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            self._client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        return self._client

    def check(self) -> None:
        """Fail fast, with one line, when the store cannot be reached (nothing has started)."""
        if self.uri.startswith(("http://", "https://")):
            import httpx

            try:
                ok = httpx.get(self.uri.rstrip("/") + "/health", timeout=5).status_code == 200
            except httpx.HTTPError as exc:
                raise TrackingError(
                    f"the MLflow tracking server at {self.uri} does not answer ({exc})",
                    "start it, or give --tracking-uri a reachable server (or leave it out for "
                    "the local store)",
                ) from None
            if not ok:
                raise TrackingError(
                    f"{self.uri} is not an MLflow tracking server (/health did not answer 200)",
                    "check --tracking-uri",
                )
        try:
            self.experiment_id  # noqa: B018 - creates the experiment, or fails here
        except Exception as exc:
            raise TrackingError(
                f"cannot use the MLflow store {self.uri} ({type(exc).__name__}: {exc})",
                "check --tracking-uri / MLFLOW_TRACKING_URI",
            ) from None

    @property
    def experiment_id(self) -> str:
        if self._experiment_id is None:
            found = self.client.get_experiment_by_name(self.experiment)
            if found is not None:
                self._experiment_id = str(found.experiment_id)
            else:
                location = None
                if not self.uri.startswith(("http://", "https://")):
                    artifacts = (self.local_dir / "artifacts").resolve()
                    artifacts.mkdir(parents=True, exist_ok=True)
                    location = artifacts.as_uri()
                self._experiment_id = str(
                    self.client.create_experiment(self.experiment, artifact_location=location)
                )
        return self._experiment_id

    def finished(self, names: Iterable[str]) -> dict[str, Run]:
        """The FINISHED runs of this experiment among ``names`` (the newest per name)."""
        wanted = set(names)
        found: dict[str, Run] = {}
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string="attributes.status = 'FINISHED'",
            max_results=5000,
            order_by=["attributes.start_time ASC"],
        )
        for run in runs:
            name = run.info.run_name
            if name in wanted:
                found[name] = run
        return found

    def record(
        self, spec: RunSpec, params: dict[str, Any], payload: RunPayload, folder: Path
    ) -> RunOutcome:
        """Record one run's payload (``params``: the unscaled config it stands for); files are
        also written under ``folder``. FINISHED only when everything is stored."""
        from mlflow.entities import Metric, Param

        client = self.client
        tags = {
            f"{TAG}sweep": spec.sweep, f"{TAG}phase": spec.phase, f"{TAG}trainer": spec.trainer,
            f"{TAG}scale": spec.scale, f"{TAG}seed": str(spec.seed),
            f"{TAG}config": json.dumps(params, sort_keys=True, default=str),
            f"{TAG}trained_config": json.dumps(spec.params, sort_keys=True, default=str),
            f"{TAG}curves": ",".join(sorted(payload.curves)),
            f"{TAG}final": ",".join(sorted(payload.metrics)),
            f"{TAG}seconds": f"{payload.seconds:.3f}",
        }  # fmt: skip
        run = client.create_run(self.experiment_id, run_name=spec.name, tags=tags)
        run_id = run.info.run_id
        reason = payload.error
        artifacts: list[Path] = []
        bundle_dir: Path | None = None
        try:
            now_ms = int(time.time() * 1000)
            metrics = [
                Metric(key, value, now_ms, step)
                for key, points in payload.curves.items()
                for step, value in points
            ]
            last = {key: max(step for step, _ in points) for key, points in payload.curves.items()}
            metrics += [
                Metric(key, value, now_ms, last.get(key, -1) + 1)
                for key, value in payload.metrics.items()
            ]
            param_list = [Param(k, str(v)[:6000]) for k, v in sorted(params.items())]
            for start in range(0, max(len(metrics), 1), 900):
                batch = metrics[start : start + 900]
                client.log_batch(run_id, metrics=batch, params=param_list if start == 0 else [])
            if reason is None:
                artifacts, bundle_dir = _write_files(payload, folder)
                if artifacts:
                    client.log_artifacts(run_id, str(folder / "plots"), "plots")
                if bundle_dir is not None:
                    client.log_artifacts(run_id, str(bundle_dir), "bundle")
        except OSError as exc:  # e.g. the disk is full: the run is failed, not half-recorded
            reason = f"writing its artifacts failed ({exc})"
        if reason is not None:
            client.set_tag(run_id, f"{TAG}reason", reason[:5000])
            client.set_terminated(run_id, "FAILED")
            return RunOutcome(
                spec.name, spec.phase, params, "failed", reason=reason, run_id=run_id,
                curves=_curves(payload), seconds=payload.seconds,
            )  # fmt: skip
        client.set_terminated(run_id, "FINISHED")
        return RunOutcome(
            spec.name, spec.phase, params, "finished", metrics=dict(payload.metrics),
            curves=_curves(payload), run_id=run_id, artifacts=artifacts, bundle_dir=bundle_dir,
            seconds=payload.seconds,
        )  # fmt: skip

    def outcome_of(self, run: Run, folder: Path) -> RunOutcome:
        """A finished run read back from the store (its local files when they are there)."""
        tags = run.data.tags
        curves = {}
        for key in filter(None, tags.get(f"{TAG}curves", "").split(",")):
            history = sorted(
                self.client.get_metric_history(run.info.run_id, key), key=lambda m: m.step
            )
            curves[key] = [m.value for m in history]
        final = set(tags.get(f"{TAG}final", "").split(",")) - {""}
        metrics = {k: float(v) for k, v in run.data.metrics.items() if not final or k in final}
        plots = sorted((folder / "plots").glob("**/*")) if (folder / "plots").is_dir() else []
        bundle = folder / "bundle"
        return RunOutcome(
            run.info.run_name, tags.get(f"{TAG}phase", ""),
            json.loads(tags.get(f"{TAG}config", "{}")), "finished", metrics=metrics,
            curves=curves, run_id=run.info.run_id, artifacts=[p for p in plots if p.is_file()],
            bundle_dir=bundle if (bundle / "bundle.json").is_file() else None,
            seconds=float(tags.get(f"{TAG}seconds", "nan")),
        )  # fmt: skip

    def mark_winner(self, outcome: RunOutcome) -> None:
        if outcome.run_id is not None:
            self.client.set_tag(outcome.run_id, f"{TAG}winner", "true")


def _curves(payload: RunPayload) -> dict[str, list[float]]:
    return {key: [value for _, value in sorted(points)] for key, points in payload.curves.items()}


def _write_files(payload: RunPayload, folder: Path) -> tuple[list[Path], Path | None]:
    """The payload's plots and bundle under ``folder`` (replacing an earlier attempt's)."""
    shutil.rmtree(folder, ignore_errors=True)
    written = []
    for relative, data in sorted(payload.artifacts.items()):
        path = folder / "plots" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    bundle_dir = None
    if payload.bundle:
        bundle_dir = folder / "bundle"
        for relative, data in sorted(payload.bundle.items()):
            path = bundle_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return written, bundle_dir
