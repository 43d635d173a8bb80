"""The tactical environment: where (region) and how big (memory) within one provider.

Also home of :class:`TraceEnv`, the episode logic shared with the strategic env: an episode is
``episode_length`` consecutive requests of the trace from a seeded random offset (wrapping at
the end of the trace). Requests do not depend on earlier actions, so each step is a contextual
bandit decision; the episode ends by truncation, never termination.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from skyroute.errors import ConfigError
from skyroute.world import dynamics as dyn
from skyroute.world.model import World
from skyroute.world.objective import Objective
from skyroute.world.observations import CANDIDATES_PER_PROVIDER, tactical_contract
from skyroute.world.traces.schema import Trace

Obs = NDArray[np.float32]


class TraceEnv(gymnasium.Env[Obs, np.int64]):
    """One trace request per step; subclasses say what is observed and what an action costs."""

    def __init__(
        self, data: dyn.EnvData, n_actions: int, n_features: int, episode_length: int
    ) -> None:
        if episode_length < 1:
            raise ConfigError(
                f"episode_length={episode_length} is impossible", "use at least one step"
            )
        self.metadata = {"render_modes": []}
        self.data = data
        self.episode_length = episode_length
        self.action_space = spaces.Discrete(n_actions)
        self.observation_space = spaces.Box(
            -dyn.LIMIT, dyn.LIMIT, shape=(n_features,), dtype=np.float32
        )
        self._offset: int | None = None
        self._t = 0
        self._ranked: tuple[bytes, dyn.Ranked] | None = None

    # The two methods below take a batch of rows so the vector env can call them too.
    def observe(self, rows: dyn.Int) -> NDArray[np.float32]:
        """Observations of trace ``rows``: [B, n_features]."""
        raise NotImplementedError

    def outcome_of(self, rows: dyn.Int, actions: dyn.Int) -> tuple[dyn.Array, dyn.Int]:
        """(reward, placement index) of ``actions`` on trace ``rows``: [B] each."""
        raise NotImplementedError

    def ranked(self, rows: dyn.Int) -> dyn.Ranked:
        """The candidates of ``rows``, kept for the last rows asked: a step observes a row,
        then masks and scores the same row, and ranking is most of an env step's work."""
        key = rows.tobytes()
        if self._ranked is None or self._ranked[0] != key:
            self._ranked = (key, dyn.rank_candidates(self.data, rows))
        return self._ranked[1]

    def _rows(self) -> dyn.Int:
        if self._offset is None:
            raise gymnasium.error.ResetNeeded("call reset() before step()")
        return dyn.rows_at(np.array([self._offset]), np.array([self._t]), self.data.n_rows)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Obs, dict[str, Any]]:
        """Start at a random trace row drawn from ``np_random`` (seeded by ``seed``)."""
        super().reset(seed=seed)
        self._offset = int(self.np_random.integers(self.data.n_rows))
        self._t = 0
        return self.observe(self._rows())[0], {}

    def step(self, action: np.int64 | int) -> tuple[Obs, float, bool, bool, dict[str, Any]]:
        rows = self._rows()
        if not self.action_space.contains(int(action)):
            raise ValueError(f"action {action!r} is outside {self.action_space}")
        reward, placement = self.outcome_of(rows, np.array([int(action)], dtype=np.int64))
        self._t += 1
        truncated = self._t >= self.episode_length
        obs = self.observe(self._rows())[0]
        return obs, float(reward[0]), False, truncated, {"placement": int(placement[0])}


class TacticalEnv(TraceEnv):
    """Pick one of ``provider``'s ``CANDIDATES_PER_PROVIDER`` best placements for the caller.

    Action ``a`` is the candidate of rank ``a + 1`` by expected objective (any region, memory,
    platform and purchase of the provider that keeps the hard constraints). The provider is
    fixed per env (the strategic env chooses it). ``action_masks`` marks the slots that hold a
    distinct feasible placement (sb3-contrib's MaskablePPO reads it).
    """

    def __init__(
        self,
        trace: str | Trace = dyn.DEFAULT_TRACE,
        world: World | None = None,
        objective: Objective | None = None,
        provider: str = "aws",
        episode_length: int = 256,
        relative_reward: bool = False,
    ) -> None:
        data = dyn.load_env_data(trace, world, objective)
        self.provider = provider
        #: Divide each reward by the reference placement's objective for that call: the best
        #: action per call is unchanged, but a few long calls no longer dominate the returns.
        self.relative_reward = relative_reward
        self._provider = dyn.provider_index(data.world, provider)
        n_features = tactical_contract().width
        super().__init__(data, CANDIDATES_PER_PROVIDER, n_features, episode_length)

    def observe(self, rows: dyn.Int) -> NDArray[np.float32]:
        return dyn.tactical_observation(self.data, rows, self._providers(rows), self.ranked(rows))

    def outcome_of(self, rows: dyn.Int, actions: dyn.Int) -> tuple[dyn.Array, dyn.Int]:
        reward, placement = dyn.tactical_step(
            self.data, rows, self._providers(rows), actions, self.ranked(rows)
        )
        if self.relative_reward:
            reward = reward / dyn.reference_objective(self.data, rows)
        return reward, placement

    def _providers(self, rows: dyn.Int) -> dyn.Int:
        return np.full(rows.shape, self._provider, dtype=np.int64)

    def action_masks(self) -> NDArray[np.bool_]:
        """True for the slots that hold a distinct feasible candidate (rank 1 always does)."""
        rows = self._rows()
        mask: NDArray[np.bool_] = dyn.tactical_mask(self.ranked(rows), self._providers(rows))[0]
        mask = mask.copy()
        mask[0] = True
        return mask
