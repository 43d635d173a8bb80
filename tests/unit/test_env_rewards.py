"""Relative tactical rewards rescale each call's rewards without changing its best action."""

from __future__ import annotations

import numpy as np

from skyroute.world import dynamics as dyn
from skyroute.world.envs.tactical import TacticalEnv


def test_relative_reward_keeps_every_calls_ranking_of_actions() -> None:
    plain = TacticalEnv(provider="azure")
    relative = TacticalEnv(provider="azure", relative_reward=True)
    rows = np.arange(0, 400, 37, dtype=np.int64)
    actions = np.arange(int(plain.action_space.n), dtype=np.int64)
    for row in rows:
        batch = np.full(actions.shape, row)
        absolute, placed = plain.outcome_of(batch, actions)
        scaled, placed_again = relative.outcome_of(batch, actions)
        np.testing.assert_array_equal(placed, placed_again)
        ratio = scaled / absolute
        np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)
        assert ratio[0] > 0
        assert np.argmax(scaled) == np.argmax(absolute)
    reference = dyn.reference_objective(plain.data, rows)
    assert np.isfinite(reference).all() and (reference > 0).all()
