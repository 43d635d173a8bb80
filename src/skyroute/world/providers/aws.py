"""Amazon Web Services: Lambda and Fargate (see :mod:`skyroute.world.products`)."""

from __future__ import annotations

from skyroute.world.providers.base import Provider, Sourced


class AWS(Provider):
    name = "aws"
    display_name = "Amazon Web Services"
    pue = Sourced(1.135, "Cloud Carbon Footprint AWS PUE")
    watts_per_vcpu_min = 0.74
    watts_per_vcpu_max = 3.5
