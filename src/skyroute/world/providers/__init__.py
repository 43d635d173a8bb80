"""One module per cloud provider, each implementing :class:`~.base.Provider`."""

from __future__ import annotations

from skyroute.registry import Registry
from skyroute.world.providers.base import Provider

PROVIDERS: Registry[type[Provider]] = Registry("provider")
PROVIDERS.register("aws", "skyroute.world.providers.aws:AWS")
PROVIDERS.register("azure", "skyroute.world.providers.azure:Azure")
PROVIDERS.register("gcp", "skyroute.world.providers.gcp:GCP")

#: Providers in the fixed order used by every array and action index.
PROVIDER_ORDER = ("aws", "azure", "gcp")


def get_provider(name: str) -> Provider:
    """The provider registered under ``name`` ("did you mean" on a typo)."""
    return PROVIDERS.load(name)()
