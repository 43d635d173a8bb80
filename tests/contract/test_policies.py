"""Every registered policy honours the policy contract."""

from __future__ import annotations

import numpy as np
import pytest

from skyroute.errors import ConfigError, UnknownNameError
from skyroute.world.model import World
from skyroute.world.objective import Constraints, Objective
from skyroute.world.policies import POLICIES, make_policy
from skyroute.world.requests import requests_from_trace
from skyroute.world.simulator import simulate
from skyroute.world.traces.schema import Trace

ONLINE = [n for n in POLICIES.names() if n != "oracle"]


@pytest.mark.parametrize("name", ONLINE)
def test_one_valid_placement_per_request(name: str, small_trace: Trace, small_world: World) -> None:
    requests = requests_from_trace(small_trace, small_world)
    policy = make_policy(name)
    policy.reset(0)
    placement = policy.decide(requests, small_world, Objective())
    assert placement.shape == (len(small_trace),)
    assert placement.dtype == np.int64
    assert placement.min() >= 0 and placement.max() < small_world.n_placements


@pytest.mark.parametrize("name", POLICIES.names())
def test_provider_constraint_is_respected(
    name: str, small_trace: Trace, small_world: World
) -> None:
    objective = Objective(constraints=Constraints(providers=("gcp",)))
    result = simulate(small_trace, make_policy(name), small_world, objective, seed=0)
    gcp = small_world.providers.index("gcp")
    assert (small_world.placements.provider[result.placement] == gcp).all()


@pytest.mark.parametrize("name", ["only-aws", "only-azure", "only-gcp"])
def test_single_provider_baselines_stay_on_their_provider(
    name: str, small_trace: Trace, small_world: World
) -> None:
    result = simulate(small_trace, make_policy(name), small_world, seed=0)
    provider = small_world.providers.index(name.removeprefix("only-"))
    assert (small_world.placements.provider[result.placement] == provider).all()


def test_greedy_beats_rule_baselines_in_expectation(small_trace: Trace, small_world: World) -> None:
    greedy = simulate(small_trace, make_policy("greedy"), small_world, seed=0).objective.mean()
    for name in ("random", "round-robin", "nearest", "greenest"):
        assert (
            greedy < simulate(small_trace, make_policy(name), small_world, seed=0).objective.mean()
        )


def test_latency_slo_filters_candidates(small_trace: Trace, small_world: World) -> None:
    loose = simulate(small_trace, make_policy("cheapest"), small_world, seed=0)
    slo = Objective(
        constraints=Constraints(max_latency_ms=float(np.median(loose.outcome.latency_ms)))
    )
    tight = simulate(small_trace, make_policy("cheapest"), small_world, slo, seed=0)
    limit = slo.constraints.max_latency_ms
    assert (tight.outcome.latency_ms <= limit).mean() > (loose.outcome.latency_ms <= limit).mean()
    assert tight.constraint_fixes == 0


def test_unknown_policy_suggests_the_closest_name() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'greedy'"):
        make_policy("gredy")


def test_oracle_refuses_to_decide_without_the_future(
    small_trace: Trace, small_world: World
) -> None:
    requests = requests_from_trace(small_trace, small_world)
    with pytest.raises(ConfigError, match="needs the future"):
        make_policy("oracle").decide(requests, small_world, Objective())


def test_impossible_weights_are_refused() -> None:
    with pytest.raises(ConfigError, match="impossible"):
        Objective(cost=-1.0)
