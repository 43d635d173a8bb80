"""Gymnasium environments of the world model (see docs/environments.md).

Importing this package registers ``SkyRoute/Strategic-v0`` and ``SkyRoute/Tactical-v0`` with
Gymnasium; the env modules (and NumPy work) load only when an env is made.
"""

from __future__ import annotations

ENV_IDS: dict[str, str] = {
    "SkyRoute/Strategic-v0": "skyroute.world.envs.strategic:StrategicEnv",
    "SkyRoute/Tactical-v0": "skyroute.world.envs.tactical:TacticalEnv",
}

__all__ = ["ENV_IDS", "register_envs"]


def register_envs() -> None:
    """Register every SkyRoute env id with Gymnasium; safe to call repeatedly."""
    import gymnasium

    for env_id, entry_point in ENV_IDS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point=entry_point)


register_envs()
