"""Every registered SkyRoute env honours the Gymnasium / SB3 contract; batched == N singles."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from gymnasium.vector import SyncVectorEnv
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import skyroute.world.envs
from skyroute.errors import ConfigError, UnknownNameError
from skyroute.world import dynamics as dyn
from skyroute.world.catalog.loader import Catalog
from skyroute.world.envs.strategic import StrategicEnv
from skyroute.world.envs.tactical import TacticalEnv, TraceEnv
from skyroute.world.envs.vector import StrategicVectorEnv, TacticalVectorEnv, TraceVectorEnv
from skyroute.world.model import World, build_world
from skyroute.world.observations import CANDIDATES_PER_PROVIDER
from skyroute.world.traces.schema import Trace

ENV_IDS = sorted(k for k in gymnasium.registry if k.startswith("SkyRoute/"))


def test_ids_are_registered_idempotently() -> None:
    assert sorted(skyroute.world.envs.ENV_IDS) == ENV_IDS
    skyroute.world.envs.register_envs()
    skyroute.world.envs.register_envs()
    assert sorted(k for k in gymnasium.registry if k.startswith("SkyRoute/")) == ENV_IDS


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_and_sb3_checkers_pass(env_id: str) -> None:
    env = gymnasium.make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(env.unwrapped)
        sb3_check_env(env)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_seed_same_episode(env_id: str) -> None:
    runs = []
    for _ in range(2):
        env = gymnasium.make(env_id, episode_length=32)
        obs, _ = env.reset(seed=7)
        env.action_space.seed(7)
        trajectory = [obs]
        for _ in range(32):
            obs, reward, _, _, _ = env.step(env.action_space.sample())
            trajectory += [obs, np.array([reward])]
        runs.append(np.concatenate([t.astype(np.float64).ravel() for t in trajectory]))
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_episode_truncates_with_finite_rewards(env_id: str) -> None:
    env = gymnasium.make(env_id, episode_length=50)
    obs, _ = env.reset(seed=3)
    env.action_space.seed(3)
    rewards = []
    for step in range(1, 51):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)
        assert not terminated
        assert truncated == (step == 50)
        assert 0 <= info["placement"] < env.unwrapped.data.world.n_placements
        rewards.append(reward)
    assert np.isfinite(rewards).all() and max(rewards) < 0


def test_tactical_actions_are_the_providers_best_candidates(small_world: World) -> None:
    env = TacticalEnv(world=small_world, provider="gcp")
    env.reset(seed=0)
    rows = env._rows()
    gcp = small_world.providers.index("gcp")
    ranked = dyn.rank_candidates(env.data, rows)
    places = ranked.placements[0, gcp]
    assert env.action_space.n == CANDIDATES_PER_PROVIDER == places.size
    assert all(small_world.describe(int(i)).provider == "gcp" for i in places)
    # Best expected objective first, and nothing of the provider's outside them is better.
    out, ref = dyn.expected_outcomes(env.data, rows, np.arange(small_world.n_placements)[None, :])
    from skyroute.world.objective import objective_value

    value = objective_value(out, ref, env.data.objective)[0]
    mine = value[places[ranked.valid[0, gcp]]]
    assert (np.diff(mine) >= 0).all()
    others = np.setdiff1d(np.flatnonzero(small_world.placements.provider == gcp), places)
    fits = small_world.placements.memory_mb[others] >= env.data.expected.memory_mb[rows[0]]
    assert (value[others[fits]] >= mine[-1] - 1e-12).all()
    assert env.action_masks()[0]


def test_masks_mark_distinct_feasible_candidates() -> None:
    env = TacticalEnv(provider="azure")
    env.reset(seed=0)
    mask = env.action_masks()
    ranked = dyn.rank_candidates(env.data, env._rows())
    chosen = ranked.placements[0, env.data.world.providers.index("azure")]
    assert mask[0] and len(set(chosen[mask].tolist())) == int(mask.sum())


def test_accepts_trace_and_world_objects(small_trace: Trace, small_world: World) -> None:
    env = StrategicEnv(trace=small_trace, world=small_world, episode_length=4)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert env.data.n_rows == len(small_trace)


def test_bad_arguments_are_explained(small_trace: Trace, catalog: Catalog) -> None:
    with pytest.raises(UnknownNameError):
        TacticalEnv(provider="oracle-cloud")
    with pytest.raises(ConfigError):
        TacticalEnv(episode_length=0)
    assert len(set(small_trace.origin_names)) > 1
    lonely = build_world(catalog, origins=[small_trace.origin_names[0]])
    with pytest.raises(ConfigError, match="callers"):
        TacticalEnv(trace=small_trace, world=lonely)


VECTORS: list[tuple[type[TraceVectorEnv], Callable[..., TraceEnv]]] = [
    (TacticalVectorEnv, TacticalEnv),
    (StrategicVectorEnv, StrategicEnv),
]


@pytest.mark.parametrize(("vector_cls", "single_cls"), VECTORS)
def test_batched_env_equals_n_single_envs(
    vector_cls: Callable[..., TraceVectorEnv], single_cls: Callable[..., TraceEnv]
) -> None:
    """N copies stepped in one NumPy batch give bit-identical results to N single envs.

    The singles run in ``SyncVectorEnv`` (seeds ``s + i``, NEXT_STEP autoreset), across several
    episode boundaries, with the same random actions.
    """
    n, length, steps = 5, 7, 40
    batched = vector_cls(n, episode_length=length)
    singles = SyncVectorEnv([lambda: single_cls(episode_length=length) for _ in range(n)])
    obs_b, _ = batched.reset(seed=11)
    obs_s, _ = singles.reset(seed=11)
    np.testing.assert_array_equal(obs_b, obs_s)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        actions = rng.integers(batched.single_action_space.n, size=n)
        got = batched.step(actions)
        want = singles.step(actions)
        for a, b in zip(got[:4], want[:4], strict=True):
            np.testing.assert_array_equal(a, b)
        assert got[4].keys() == want[4].keys()
        if "placement" in want[4]:
            np.testing.assert_array_equal(got[4]["_placement"], want[4]["_placement"])
            mask = want[4]["_placement"]
            np.testing.assert_array_equal(got[4]["placement"][mask], want[4]["placement"][mask])
    assert batched.observation_space.contains(got[0])
