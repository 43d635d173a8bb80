"""The strategic environment: which cloud provider serves the request.

The tactical choice inside the provider is made greedily (lowest expected objective among the
tactical env's 24 candidates), so the reward isolates the value of the provider decision.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from skyroute.world import dynamics as dyn
from skyroute.world.envs.tactical import TraceEnv
from skyroute.world.model import World
from skyroute.world.objective import Objective
from skyroute.world.observations import strategic_contract
from skyroute.world.traces.schema import Trace


class StrategicEnv(TraceEnv):
    """Action = provider index in ``world.providers`` (aws, azure, gcp)."""

    def __init__(
        self,
        trace: str | Trace = dyn.DEFAULT_TRACE,
        world: World | None = None,
        objective: Objective | None = None,
        episode_length: int = 256,
    ) -> None:
        data = dyn.load_env_data(trace, world, objective)
        n_providers = len(data.world.providers)
        n_features = strategic_contract(data.world.providers).width
        super().__init__(data, n_providers, n_features, episode_length)

    def observe(self, rows: dyn.Int) -> NDArray[np.float32]:
        return dyn.strategic_observation(self.data, rows, self.ranked(rows))

    def outcome_of(self, rows: dyn.Int, actions: dyn.Int) -> tuple[dyn.Array, dyn.Int]:
        return dyn.strategic_step(self.data, rows, actions, self.ranked(rows))
