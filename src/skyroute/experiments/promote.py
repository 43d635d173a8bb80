"""Promoting a sweep's champion: into the MLflow Model Registry, and onto a SkyRoute server.

Registration verifies the bundle that is actually registered -- the champion run's ``bundle``
artifact, downloaded from the tracking store -- with the same check as ``skyroute bundle
verify``; a bundle that fails registers nothing. It is idempotent: the same champion run
registers one version, however often a resumed sweep ends. The upload speaks the server's
public API (``POST /api/v1/ml/models/upload`` then ``/activate``) and turns every failure into
one line: unreachable, refused key, or the server's own ``{error: {message, fix}}``.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skyroute.bundles import BundleError, pack_bundle, read_bundle
from skyroute.errors import SkyRouteError
from skyroute.experiments.outcomes import RunOutcome, SweepOutcome

if TYPE_CHECKING:
    import httpx
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

#: Where a run's bundle lives among its MLflow artifacts.
BUNDLE_ARTIFACT = "bundle"
CHAMPION_ALIAS = "champion"
UPLOAD_TIMEOUT_S = 120.0


class PromotionError(SkyRouteError):
    """The champion cannot be registered or uploaded (no champion, bad bundle, server says no)."""

    code = "promotion_failed"


def register_champion(
    outcome: SweepOutcome,
    tracking_uri: str,
    model_name: str,
    *,
    artifact_path: str = BUNDLE_ARTIFACT,
) -> str:
    """Register the champion's bundle as a version of ``model_name``, aliased ``champion``.

    Returns the version. Tags: sweep, trainer, phase, rule, run and ``metric.<name>`` per metric.
    Nothing is registered unless the artifact passes verification.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    champion, run_id = _champion(outcome)
    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        with tempfile.TemporaryDirectory(prefix="skyroute-champion-") as tmp:
            _fetch_verified(client, champion, run_id, artifact_path, Path(tmp) / "bundle")
        source = f"{client.get_run(run_id).info.artifact_uri}/{artifact_path}"
        version = _existing_version(client, model_name, run_id, source)
        if version is None:
            _ensure_registered_model(client, model_name)
            created = client.create_model_version(
                model_name,
                source=source,
                run_id=run_id,
                tags=_tags(outcome, champion),
                description=f"champion of sweep {outcome.sweep} ({champion.name})",
            )
            version = str(created.version)
        client.set_registered_model_alias(model_name, CHAMPION_ALIAS, version)
    except MlflowException as exc:
        raise PromotionError(
            f"MLflow at {tracking_uri} refused the registration: {_first_line(str(exc))}",
            "check the tracking URI and that the champion run still exists there",
        ) from None
    log.info("registered %s version %s (alias %s)", model_name, version, CHAMPION_ALIAS)
    return version


def _champion(outcome: SweepOutcome) -> tuple[RunOutcome, str]:
    """The champion and its MLflow run id; PromotionError when there is no such run."""
    champion = outcome.champion
    if champion is None:
        last = outcome.phases[-1] if outcome.phases else None
        why = (last.problem or "no run met its rule") if last else "the sweep has no phases"
        raise PromotionError(
            f"sweep {outcome.sweep} has no champion to register: {why}",
            "relax the last phase's rule or fix its failed runs, then run the sweep again",
        )
    if champion.run_id is None:
        raise PromotionError(
            f"champion {champion.name} has no MLflow run id",
            "register from an outcome read back from the tracking store",
        )
    return champion, champion.run_id


def fetch_champion_bundle(
    outcome: SweepOutcome,
    tracking_uri: str,
    dest: Path,
    *,
    artifact_path: str = BUNDLE_ARTIFACT,
) -> Path:
    """Download the champion run's bundle artifact into the new folder ``dest`` and verify it.

    What to hand :func:`upload_to_server` when the outcome (read back from the tracking store)
    has no local ``bundle_dir``. PromotionError when there is no champion, no artifact, or the
    bundle fails verification.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    champion, run_id = _champion(outcome)
    try:
        return _fetch_verified(
            MlflowClient(tracking_uri=tracking_uri), champion, run_id, artifact_path, Path(dest)
        )
    except MlflowException as exc:
        raise PromotionError(
            f"cannot fetch {champion.name}'s bundle from MLflow at {tracking_uri}: "
            f"{_first_line(str(exc))}",
            "check the tracking URI and that the champion run still exists there",
        ) from None


def _fetch_verified(
    client: MlflowClient, champion: RunOutcome, run_id: str, artifact_path: str, dest: Path
) -> Path:
    """The run's bundle artifact downloaded to ``dest`` and verified (PromotionError if not)."""
    if dest.exists():
        raise PromotionError(f"{dest} exists", "download the bundle into a new folder")
    if not client.list_artifacts(run_id, artifact_path):
        raise PromotionError(
            f"champion {champion.name} (run {run_id}) has no '{artifact_path}' artifact",
            "the trainer must return a bundle (RunResult.bundle_dir) for the run to be promotable",
        )
    dest.mkdir(parents=True)
    local = Path(client.download_artifacts(run_id, artifact_path, str(dest)))
    try:
        read_bundle(local)
    except BundleError as exc:
        raise PromotionError(
            f"champion {champion.name}'s bundle (run {run_id}) fails verification: {exc.message}",
            exc.fix or "fix the trainer's export and run the phase again",
        ) from None
    return local


def _existing_version(client: MlflowClient, name: str, run_id: str, source: str) -> str | None:
    """The version already registered from this run's bundle (a resumed sweep's second end)."""
    from mlflow.exceptions import MlflowException

    try:
        found = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    except MlflowException:
        return None
    same = sorted((int(v.version) for v in found if v.source == source), reverse=True)
    return str(same[0]) if same else None


def _ensure_registered_model(client: MlflowClient, name: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        client.create_registered_model(name, description="SkyRoute sweep champions")


def _tags(outcome: SweepOutcome, champion: RunOutcome) -> dict[str, str]:
    phase = next(p for p in outcome.phases if p.winner is champion)
    tags = {
        "sweep": outcome.sweep,
        "trainer": outcome.trainer,
        "scale": outcome.scale,
        "phase": phase.name,
        "rule": phase.rule,
        "run": champion.name,
    }
    tags.update({f"metric.{k}": repr(v) for k, v in sorted(champion.metrics.items())})
    return tags


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no details"


def upload_to_server(
    bundle_dir: Path,
    url: str,
    api_key: str,
    name: str,
    version: str,
    activate: bool = True,
) -> dict[str, Any]:
    """Upload ``bundle_dir`` to the SkyRoute server at ``url`` as ``name`` ``version``.

    Verifies and zips the bundle first (nothing is sent if it fails), then uploads and, with
    ``activate``, serves all of ``name``'s traffic with it. Returns the upload's response
    (model_id, version, kind, unsafe, sha256). Every failure is a one-line PromotionError.
    """
    import httpx

    try:
        read_bundle(Path(bundle_dir))
    except BundleError as exc:
        raise PromotionError(
            f"{bundle_dir} is not a valid bundle: {exc.message}", exc.fix
        ) from None
    base = url.rstrip("/")
    headers = {"Authorization": f"Bearer {api_key}"}
    with tempfile.TemporaryDirectory(prefix="skyroute-upload-") as tmp:
        archive = pack_bundle(Path(bundle_dir), Path(tmp) / f"{name}-{version}.zip")
        with httpx.Client(base_url=base, headers=headers, timeout=UPLOAD_TIMEOUT_S) as http:
            with archive.open("rb") as handle:
                files = {"file": (archive.name, handle, "application/zip")}
                data = {"name": name, "version": version}
                uploaded = _call(http, base, "upload", files=files, data=data)
            if activate:
                _call(http, base, "activate", json={"model_id": name, "version": version})
    log.info("uploaded %s %s to %s%s", name, version, base, " and activated it" if activate else "")
    return uploaded


def _call(http: httpx.Client, base: str, action: str, **request: Any) -> dict[str, Any]:
    """POST ``/api/v1/ml/models/{action}``; the answer's JSON, or one clear PromotionError."""
    import httpx

    try:
        response = http.post(f"/api/v1/ml/models/{action}", **request)
    except httpx.TransportError as exc:
        raise PromotionError(
            f"cannot reach the SkyRoute server at {base} ({type(exc).__name__}: {exc})",
            "start the server or correct the URL (--promote-to)",
        ) from None
    if response.status_code == 401:
        raise PromotionError(
            f"the server at {base} refused the API key (401)",
            "pass a valid tenant API key for that server",
        )
    if response.is_error:
        message, fix = _server_error(response)
        raise PromotionError(
            f"model {action} refused by {base} ({response.status_code}): {message}", fix
        )
    body: dict[str, Any] = response.json()
    return body


def _server_error(response: httpx.Response) -> tuple[str, str]:
    """The server's ``{error: {message, fix}}``, or the start of whatever else it answered."""
    try:
        error = response.json().get("error", {})
        return str(error.get("message") or "no message"), str(error.get("fix") or "")
    except (ValueError, AttributeError):
        return _first_line(response.text)[:200] or response.reason_phrase, ""
