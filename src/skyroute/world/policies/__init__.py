"""Policies by name: the baselines, the oracle, and (later) learned policies."""

from __future__ import annotations

from skyroute.registry import Registry
from skyroute.world.policies.base import Policy

POLICIES: Registry[type[Policy]] = Registry("policy")
for _name, _target in {
    "only-aws": "baselines:OnlyAWS",
    "only-azure": "baselines:OnlyAzure",
    "only-gcp": "baselines:OnlyGCP",
    "cheapest": "baselines:Cheapest",
    "nearest": "baselines:Nearest",
    "greenest": "baselines:Greenest",
    "round-robin": "baselines:RoundRobin",
    "random": "baselines:Random",
    "greedy": "baselines:Greedy",
    "oracle": "oracle:Oracle",
}.items():
    POLICIES.register(_name, f"skyroute.world.policies.{_target}")


def make_policy(name: str) -> Policy:
    """A fresh instance of the policy registered as ``name``."""
    return POLICIES.load(name)()
