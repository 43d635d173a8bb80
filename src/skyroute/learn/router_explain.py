"""SHAP values of the router model that is exported, whatever its family, from the ``shap`` package.

``shap`` rather than our own estimator: its TreeSHAP is exact for trees, and it is one API for
every family.

- XGBoost and LightGBM: ``shap.TreeExplainer`` on the booster's raw margin, i.e. the log-odds of
  "container".
- Random forest: ``shap.TreeExplainer`` (tree-path-dependent) on P(container): a forest averages
  its trees' class fractions and has no margin, so its values are in probability.
- MLP: ``shap.PermutationExplainer`` (model-agnostic, antithetic permutations, seeded) on the
  log-odds of the scaler + MLP pipeline, features masked with a seeded background of held-out
  rows. It costs (2 x features + 1) x background predictions per row and order, so it explains
  fewer rows, with one BLAS thread: on the shared 2-core machine two threads made it 3-6x slower.

Each explanation's values plus its expected value add up to the explained output on each row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyroute.learn.router import FamilyResult

Matrix = NDArray[np.float32]
#: Rows explained. Booster TreeSHAP is cheap; the forest's deep trees cost about 4 ms a row on
#: the default trace; the MLP pays predictions (see the module docstring).
BOOSTER_ROWS, FOREST_ROWS, SAMPLED_ROWS = 3000, 500, 300
#: The MLP's antithetic permutation pairs (2 x this many feature orders) and background rows.
PERMUTATIONS, BACKGROUND_ROWS = 4, 50


@dataclass(frozen=True)
class Explanation:
    """Per-row, per-feature SHAP values of the rows ``x``, in ``units`` of "container".

    ``values`` of a row plus ``expected`` equal the model's output (in ``units``) on that row.
    """

    values: NDArray[np.float64]
    x: Matrix
    method: str
    expected: float
    units: str


def _log_odds(model: Any, x: Matrix) -> NDArray[np.float64]:
    p = np.clip(model.predict_proba(x)[:, 1], 1e-6, 1 - 1e-6)
    return np.asarray(np.log(p / (1 - p)), dtype=np.float64)


def _container(result: Any) -> tuple[NDArray[np.float64], float]:
    """Values and expected value of "container" where shap gives one column per class."""
    values = np.asarray(result.values, dtype=np.float64)
    base = np.asarray(result.base_values, dtype=np.float64)
    if values.ndim == 3:
        values, base = values[:, :, 1], base[:, 1]
    return values, float(base.mean())


def explain(best: FamilyResult, x: Matrix, seed: int) -> Explanation:
    """SHAP values of ``best`` on a seeded sample of the rows ``x`` (held-out windows)."""
    import shap
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    shuffled = x[np.random.default_rng(seed).permutation(len(x))]
    if best.name in ("xgboost", "lightgbm", "random_forest"):
        forest = best.name == "random_forest"
        sample = shuffled[: FOREST_ROWS if forest else BOOSTER_ROWS]
        values, expected = _container(shap.TreeExplainer(best.model)(sample))
        units = "probability" if forest else "log-odds"
        method = f"TreeSHAP (shap.TreeExplainer, {units})"
        return Explanation(values, sample, method, expected, units)
    sample, background = shuffled[:SAMPLED_ROWS], shuffled[-BACKGROUND_ROWS:]
    explainer = shap.PermutationExplainer(
        lambda rows: _log_odds(best.model, rows),
        shap.maskers.Independent(background, max_samples=BACKGROUND_ROWS),
        seed=seed,
    )
    evaluations = PERMUTATIONS * (2 * x.shape[1] + 1)
    with threadpool_limits(limits=1, user_api="blas"):
        values, expected = _container(explainer(sample, max_evals=evaluations, silent=True))
    orders = f"{2 * PERMUTATIONS} orders, {len(background)} background rows"
    method = f"shap.PermutationExplainer (log-odds, {orders})"
    return Explanation(values, sample, method, expected, "log-odds")
