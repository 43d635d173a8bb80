"""Batched SkyRoute envs: N independent copies stepped with one NumPy call per step.

A batched env holds one single env as a template and calls the template's batch methods
(``observe``/``outcome_of``, i.e. the same :mod:`skyroute.world.dynamics` functions) on all N
rows at once.
Seeding and autoreset follow ``gymnasium.vector.SyncVectorEnv`` exactly (``reset(seed=s)``
seeds copy ``i`` with ``s + i``; NEXT_STEP autoreset), so it is interchangeable with N single
envs -- ``tests/contract/test_envs.py`` proves the numbers are identical.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from numpy.typing import NDArray

from skyroute.errors import ConfigError
from skyroute.world import dynamics as dyn
from skyroute.world.envs.strategic import StrategicEnv
from skyroute.world.envs.tactical import TacticalEnv, TraceEnv

Obs = NDArray[np.float32]


class TraceVectorEnv(VectorEnv):
    """``num_envs`` copies of ``env``'s task with their own offsets and random generators."""

    def __init__(self, env: TraceEnv, num_envs: int) -> None:
        if num_envs < 1:
            raise ConfigError(f"num_envs={num_envs} is impossible", "use at least one copy")
        self.env = env
        self.num_envs = num_envs
        self.single_observation_space = env.observation_space
        self.single_action_space = env.action_space
        self.observation_space = batch_space(env.observation_space, num_envs)
        self.action_space = batch_space(env.action_space, num_envs)
        self.metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}
        self.render_mode = None
        self._rngs: list[np.random.Generator | None] = [None] * num_envs
        self._offset = np.zeros(num_envs, dtype=np.int64)
        self._t = np.zeros(num_envs, dtype=np.int64)
        self._autoreset = np.zeros(num_envs, dtype=bool)
        self._started = False

    def _rows(self) -> dyn.Int:
        return dyn.rows_at(self._offset, self._t, self.env.data.n_rows)

    def _reset_one(self, i: int, seed: int | None) -> None:
        """What ``Env.reset(seed)`` then ``TraceEnv.reset`` do to copy ``i``'s generator."""
        rng = self._rngs[i]
        if seed is not None or rng is None:
            rng, _ = seeding.np_random(seed)
            self._rngs[i] = rng
        self._offset[i] = rng.integers(self.env.data.n_rows)
        self._t[i] = 0

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[Obs, dict[str, Any]]:
        if seed is None:
            seeds: list[int | None] = [None] * self.num_envs
        elif isinstance(seed, int):
            seeds = [seed + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
        if len(seeds) != self.num_envs:
            raise ConfigError(f"{len(seeds)} seeds for {self.num_envs} envs", "pass one each")
        for i, s in enumerate(seeds):
            self._reset_one(i, s)
        self._autoreset[:] = False
        self._started = True
        return self.env.observe(self._rows()), {}

    def step(
        self, actions: NDArray[np.int64] | Sequence[int]
    ) -> tuple[Obs, NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_], dict[str, Any]]:
        if not self._started:
            raise ConfigError("step() before reset()", "call reset() first")
        actions = np.asarray(actions, dtype=np.int64).reshape(self.num_envs)
        if not self.action_space.contains(actions):
            raise ValueError(f"actions {actions!r} are outside {self.action_space}")
        for i in np.flatnonzero(self._autoreset):
            self._reset_one(int(i), None)
        live = ~self._autoreset
        rewards = np.zeros(self.num_envs)
        placement = np.zeros(self.num_envs, dtype=np.int64)
        truncations = np.zeros(self.num_envs, dtype=bool)
        if live.any():
            rewards[live], placement[live] = self.env.outcome_of(self._rows()[live], actions[live])
            self._t[live] += 1
            truncations[live] = self._t[live] >= self.env.episode_length
        terminations = np.zeros(self.num_envs, dtype=bool)
        self._autoreset = terminations | truncations
        infos = {"placement": placement, "_placement": live} if live.any() else {}
        return self.env.observe(self._rows()), rewards, terminations, truncations, infos


class TacticalVectorEnv(TraceVectorEnv):
    """``num_envs`` copies of :class:`TacticalEnv` (same keyword arguments)."""

    def __init__(self, num_envs: int, **kwargs: Any) -> None:
        super().__init__(TacticalEnv(**kwargs), num_envs)


class StrategicVectorEnv(TraceVectorEnv):
    """``num_envs`` copies of :class:`StrategicEnv` (same keyword arguments)."""

    def __init__(self, num_envs: int, **kwargs: Any) -> None:
        super().__init__(StrategicEnv(**kwargs), num_envs)
