"""Microsoft Azure: Functions (Consumption, Flex) and Container Apps."""

from __future__ import annotations

from skyroute.world.providers.base import Provider, Sourced


class Azure(Provider):
    name = "azure"
    display_name = "Microsoft Azure"
    pue = Sourced(1.185, "Cloud Carbon Footprint Azure PUE")
    watts_per_vcpu_min = 0.78
    watts_per_vcpu_max = 3.76
