"""SHAP values of the router model that is exported, whatever its family.

XGBoost and LightGBM: exact TreeSHAP from the boosters themselves (``pred_contribs`` /
``pred_contrib``), in log-odds. Random forest and MLP: Shapley values estimated by permutation
sampling (Strumbelj and Kononenko, 2014) on the model's log-odds -- for each row and random
feature order, features switch one at a time from a background row's value to the row's own
and each switch's change in log-odds is credited to that feature. The ``shap`` package would
give TreeSHAP for the forest; it is not a dependency, so the forest is explained like the MLP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from skyroute.learn.router import FamilyResult

Matrix = NDArray[np.float32]
#: Rows explained: TreeSHAP is cheap, sampling costs (features + 1) predictions per order.
TREE_ROWS, SAMPLED_ROWS = 3000, 300
PERMUTATIONS, BACKGROUND_ROWS = 8, 100


@dataclass(frozen=True)
class Explanation:
    """Per-row, per-feature SHAP values (log-odds of "container") of the rows ``x``."""

    values: NDArray[np.float64]
    x: Matrix
    method: str


def sampled_shapley(
    predict: Callable[[Matrix], NDArray[np.float64]],
    x: Matrix,
    background: Matrix,
    permutations: int,
    seed: int,
) -> NDArray[np.float64]:
    """Shapley values of ``predict`` at the rows of ``x`` by permutation sampling.

    Each order's credits sum exactly to ``predict(x) - predict(background row)``, so the mean
    over orders sums to ``predict(x)`` minus the mean prediction over the drawn backgrounds.
    """
    rng = np.random.default_rng(seed)
    n, d = x.shape
    rows = np.arange(n)[:, None]
    total = np.zeros((n, d))
    for _ in range(permutations):
        order = np.argsort(rng.random((n, d)), axis=1)
        rank = np.empty_like(order)
        rank[rows, order] = np.arange(d)
        base = background[rng.integers(0, len(background), n)]
        own = rank[:, None, :] < np.arange(d + 1)[None, :, None]  # (n, steps, features)
        mixed = np.where(own, x[:, None, :], base[:, None, :]).reshape(-1, d)
        steps = predict(mixed.astype(np.float32)).reshape(n, d + 1)
        total[rows, order] += np.diff(steps, axis=1)
    return total / permutations


def _log_odds(model: object) -> Callable[[Matrix], NDArray[np.float64]]:
    def predict(x: Matrix) -> NDArray[np.float64]:
        p = np.clip(model.predict_proba(x)[:, 1], 1e-6, 1 - 1e-6)  # type: ignore[attr-defined]
        return np.asarray(np.log(p / (1 - p)), dtype=np.float64)

    return predict


def explain(best: FamilyResult, x: Matrix, seed: int) -> Explanation:
    """SHAP values of ``best`` on a seeded sample of the rows ``x`` (held-out windows)."""
    rng = np.random.default_rng(seed)
    if best.name == "xgboost":
        import xgboost as xgb

        sample = x[rng.permutation(len(x))[:TREE_ROWS]]
        contributions = best.model.get_booster().predict(xgb.DMatrix(sample), pred_contribs=True)
        return Explanation(contributions[:, :-1], sample, "TreeSHAP (XGBoost pred_contribs)")
    if best.name == "lightgbm":
        sample = x[rng.permutation(len(x))[:TREE_ROWS]]
        contributions = best.model.booster_.predict(sample, pred_contrib=True)
        return Explanation(contributions[:, :-1], sample, "TreeSHAP (LightGBM pred_contrib)")
    shuffled = x[rng.permutation(len(x))]
    sample, background = shuffled[:SAMPLED_ROWS], shuffled[-BACKGROUND_ROWS:]
    values = sampled_shapley(_log_odds(best.model), sample, background, PERMUTATIONS, seed)
    method = f"permutation-sampled Shapley values ({PERMUTATIONS} orders)"
    return Explanation(values, sample, method)
