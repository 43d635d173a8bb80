"""``skyroute train spot``: interruption probability and a short-horizon spot price forecast.

Two XGBoost models, each exported as an ``xgboost-json`` bundle:

- ``spot.interruption``: P(interrupted within 24 h of launch) from
  :data:`~skyroute.market.spot_features.INTERRUPTION_FEATURES`. A logistic booster is fitted on
  the earlier training hours, then Platt-scaled on the later ones; the scaling is folded into the
  booster itself (leaves x a, base margin x a + b), so the bundle alone gives calibrated
  probabilities, and the fold is checked against the unfolded model before export.
- ``spot.price``: log(price[t + h] / price[t]) from
  :data:`~skyroute.market.spot_features.PRICE_FEATURES`.

Labels and prices are simulated (:mod:`skyroute.learn.spot_data`); docs/spot.md says why.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyroute.errors import ConfigError
from skyroute.learn import spot_data as sd
from skyroute.learn import spot_report
from skyroute.learn.seeding import seed_everything
from skyroute.market import spot_features as sf
from skyroute.world.catalog.loader import load_catalog

#: Largest |folded - unfolded| probability accepted at export.
FOLD_TOLERANCE = 1e-5
#: Interruption risk can only rise with these (domain knowledge, not fitted): a worse advisor
#: bucket, a spot price nearer on-demand, a price above its weekly mean.
MONOTONE_INCREASING = ("advisor_bucket", "spot_ondemand_ratio", "price_vs_7d_mean")


@dataclass(frozen=True)
class SpotRun:
    """What a run leaves besides its files: the figures, and the models as trained in memory."""

    summary: dict[str, Any]
    report: dict[str, Any]
    interruption: Any  # xgboost.Booster, calibrated
    price: Any  # xgboost.Booster
    interruption_test: sd.Rows
    price_test: sd.Rows


def _params(config: sd.SpotConfig, objective: str, **extra: Any) -> dict[str, Any]:
    return {
        "objective": objective,
        "eta": config.learning_rate,
        "max_depth": config.max_depth,
        "min_child_weight": 1.0,
        "subsample": 0.8,
        "lambda": 1.0,
        "tree_method": "hist",
        "nthread": config.threads,
        "seed": config.seed,
        **extra,
    }


def _fit(
    rows: sd.Rows, params: dict[str, Any], rounds: int, name: str, report: sd.Report | None
) -> Any:
    import xgboost as xgb

    class Progress(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            if report is not None:
                report(name, epoch + 1, rounds)
            return False

    data = xgb.DMatrix(rows.x, label=rows.y)
    return xgb.train(params, data, rounds, callbacks=[Progress()])


def platt(margin: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[float, float]:
    """(a, b) minimising the log loss of sigmoid(a * margin + b), by Newton's method."""
    a, b = 1.0, 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(a * margin + b)))
        w = p * (1.0 - p)
        gradient = np.array([np.sum((p - y) * margin), np.sum(p - y)])
        hessian = np.array(
            [[np.sum(w * margin**2), np.sum(w * margin)], [np.sum(w * margin), np.sum(w)]]
        ) + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        a, b = a - float(step[0]), b - float(step[1])
        if np.abs(step).max() < 1e-10:
            break
    return a, b


def fold_platt(booster: Any, a: float, b: float) -> Any:
    """A booster whose probability is sigmoid(a * margin + b) of ``booster``'s margin."""
    import xgboost as xgb

    model = json.loads(bytes(booster.save_raw("json")))
    param = model["learner"]["learner_model_param"]
    base = float(str(param["base_score"]).strip("[]"))
    margin = a * float(np.log(base / (1.0 - base))) + b
    param["base_score"] = f"[{1.0 / (1.0 + np.exp(-margin)):.9E}]"
    for tree in model["learner"]["gradient_booster"]["model"]["trees"]:
        leaves = [child == -1 for child in tree["left_children"]]
        tree["base_weights"] = [a * v for v in tree["base_weights"]]
        tree["split_conditions"] = [
            a * v if leaf else v for v, leaf in zip(tree["split_conditions"], leaves, strict=True)
        ]
    folded = xgb.Booster(params={"nthread": 1})
    folded.load_model(bytearray(json.dumps(model).encode()))
    return folded


def calibrate(
    booster: Any, calibration: sd.Rows, probe: NDArray[np.float32]
) -> tuple[Any, dict[str, float]]:
    """Platt-scale ``booster`` on ``calibration`` and prove the folded booster equals it."""
    import xgboost as xgb

    a, b = platt(
        booster.predict(xgb.DMatrix(calibration.x), output_margin=True).astype(np.float64),
        calibration.y,
    )
    folded = fold_platt(booster, a, b)
    margin = booster.predict(xgb.DMatrix(probe), output_margin=True).astype(np.float64)
    expected = 1.0 / (1.0 + np.exp(-(a * margin + b)))
    error = float(np.max(np.abs(folded.inplace_predict(probe) - expected)))
    if not error <= FOLD_TOLERANCE:
        raise ConfigError(
            f"the calibrated interruption booster differs from its Platt scaling by {error:.2e}",
            "report this: the XGBoost JSON model layout may have changed",
        )
    return folded, {"platt_a": a, "platt_b": b, "fold_max_abs_error": error}


def export(
    booster: Any,
    out_dir: Path,
    *,
    kind: str,
    output: str,
    features: tuple[str, ...],
    trained_until: str,
    metrics: dict[str, Any],
    params: dict[str, Any],
    fingerprint: str,
) -> Path:
    """``booster`` as an xgboost-json bundle named after the folder."""
    import xgboost as xgb

    from skyroute import __version__
    from skyroute.bundles import write_bundle

    with tempfile.TemporaryDirectory() as tmp:
        model_file = Path(tmp) / f"{out_dir.name}.json"
        booster.save_model(str(model_file))
        write_bundle(
            out_dir,
            name=out_dir.name,
            version="1",
            kind=kind,
            format="xgboost-json",
            trained_until=trained_until,
            model_file=model_file,
            inputs=[{"name": "x", "shape": [-1, len(features)]}],
            outputs=[{"name": output, "shape": [-1, 1]}],
            features=features,
            metrics=metrics,
            params=params,
            libraries={"xgboost": xgb.__version__, "numpy": np.__version__},
            code_version=__version__,
            data_fingerprint=fingerprint,
        )
    return out_dir


def train_interruption(
    rows: sd.Rows, config: sd.SpotConfig, report: sd.Report | None
) -> tuple[Any, dict[str, Any]]:
    """Fit, calibrate and score the classifier; the calibrated booster and its evaluation."""
    fit, calibration, test = (rows.take(p) for p in (sd.FIT, sd.CALIBRATE, sd.TEST))
    if fit.y.sum() < 1 or calibration.y.sum() < 1:
        raise ConfigError(
            "the simulated launches hold no interruption to learn from",
            "raise --pools or --days",
        )
    rate = float(fit.y.mean())
    params = _params(
        config,
        "binary:logistic",
        min_child_weight=config.min_leaf_share * rate * (1.0 - rate) * len(fit.y),
        monotone_constraints="("
        + ",".join("1" if f in MONOTONE_INCREASING else "0" for f in sf.INTERRUPTION_FEATURES)
        + ")",
    )
    raw = _fit(fit, params, config.rounds, "interruption", report)
    model, calibration_info = calibrate(raw, calibration, test.x)
    evaluation = spot_report.interruption_evaluation(
        test=test,
        predicted=model.inplace_predict(test.x).astype(np.float64),
        uncalibrated=raw.inplace_predict(test.x).astype(np.float64),
        base_rate=float(np.concatenate([fit.y, calibration.y]).mean()),
        horizon_hours=config.label.horizon_hours,
    )
    evaluation["calibration"] = calibration_info
    evaluation["rows"] = {"fit": len(fit.y), "calibrate": len(calibration.y), "test": len(test.y)}
    return model, evaluation


def train_price(
    rows: sd.Rows, config: sd.SpotConfig, report: sd.Report | None
) -> tuple[Any, dict[str, Any]]:
    """Fit and score the price forecaster on log returns over the horizon."""
    fit, test = rows.take(sd.FIT), rows.take(sd.TEST)
    model = _fit(fit, _params(config, "reg:squarederror"), config.price_rounds, "price", report)
    predicted = model.inplace_predict(test.x).astype(np.float64)
    evaluation = spot_report.price_evaluation(test, predicted)
    evaluation["rows"] = {"fit": len(fit.y), "test": len(test.y)}
    return model, evaluation


def bundle_params(config: sd.SpotConfig, window: sd.Window) -> dict[str, Any]:
    """Everything that shaped the models, for both bundles' ``params``."""
    return {
        **config.to_dict(),
        "horizon_hours": config.label.horizon_hours,
        "price_horizon_hours": sf.PRICE_HORIZON_HOURS,
        "monotone_increasing": list(MONOTONE_INCREASING),
        "neutral_values": {
            "advisor_bucket": sf.NEUTRAL_BUCKET,
            "savings_pct": sf.NEUTRAL_SAVINGS_PCT,
        },
        "window": {
            "start": window.start.isoformat(),
            "cut": window.cut.isoformat(),
            "end": window.end.isoformat(),
        },
    }


def train_spot(config: sd.SpotConfig, out_dir: Path, report: sd.Report | None = None) -> SpotRun:
    """The whole run: data, both models, their bundles, report.json and plots in ``out_dir``."""
    seed_everything(config.seed)
    started = time.perf_counter()
    catalog, window = load_catalog(), sd.Window.of(config)
    pools = sd.sample_pools(catalog, config.pools, config.seed)
    launches = sd.interruption_rows(pools, window, config, report)
    keys = sd.price_series(catalog)
    prices = sd.price_rows(keys, window, report)
    data_seconds = time.perf_counter() - started
    interruption, i_eval = train_interruption(launches, config, report)
    price, p_eval = train_price(prices, config, report)
    params = bundle_params(config, window)
    for model, name, kind, output, features, evaluation, fingerprint in (
        (interruption, "spot-interruption", "spot.interruption", "p_interrupted_24h",
         sf.INTERRUPTION_FEATURES, i_eval,
         sd.fingerprint(catalog, launches.take(sd.FIT), launches.take(sd.CALIBRATE))),
        (price, "spot-price", "spot.price", f"log_return_{sf.PRICE_HORIZON_HOURS}h",
         sf.PRICE_FEATURES, p_eval, sd.fingerprint(catalog, prices.take(sd.FIT))),
    ):  # fmt: skip
        export(model, out_dir / name, kind=kind, output=output, features=features,
               trained_until=window.trained_until, metrics=spot_report.bundle_metrics(evaluation),
               params=params, fingerprint=fingerprint)  # fmt: skip
    full = {
        "config": config.to_dict(),
        "trained_until": window.trained_until,
        "window": params["window"],
        "pools": len(pools),
        "interruption": i_eval,
        "price": p_eval,
        "bamboo_check": sd.bamboo_check(catalog, window, config.label),
        "seconds": {"data": data_seconds, "total": time.perf_counter() - started},
    }
    held_out = prices.take(sd.TEST)
    predicted = price.inplace_predict(held_out.x).astype(np.float64)
    spot_report.write(out_dir, full, held_out, predicted, [k.label for k in keys])
    return SpotRun(
        spot_report.summary(full), full, interruption, price, launches.take(sd.TEST), held_out
    )
