"""Google Cloud: Cloud Run functions and Cloud Run services."""

from __future__ import annotations

from skyroute.world.providers.base import Provider, Sourced


class GCP(Provider):
    name = "gcp"
    display_name = "Google Cloud"
    pue = Sourced(1.1, "Cloud Carbon Footprint GCP PUE")
    watts_per_vcpu_min = 0.71
    watts_per_vcpu_max = 4.26
