"""``skyroute train hierarchy``: DQN picks the provider, PPO picks region × memory, an LSTM
forecasts load; each layer is exported to ONNX (checked against PyTorch) in its own bundle.

The policies train on the first ``1 - holdout_hours`` of the trace's hours; the rest is left for
``skyroute evaluate``. The bundles' inputs are the environments' observations
(docs/environments.md), which the server's ``hierarchical`` engine builds the same way.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from skyroute import __version__
from skyroute.learn.config import HierarchyConfig
from skyroute.learn.export import export_onnx
from skyroute.world.observations import ObservationContract
from skyroute.world.traces.schema import Trace, time_slice

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Split:
    train: Trace
    held_out: Trace
    cut_s: float


def split_by_time(trace: Trace, holdout: float) -> Split:
    end = float(trace.timestamp_s[-1]) + 1e-6
    cut = end * (1.0 - holdout)
    return Split(time_slice(trace, 0.0, cut), time_slice(trace, cut, end), cut)


def fingerprint(trace: Trace) -> str:
    digest = hashlib.sha256()
    for column in (trace.function, trace.timestamp_s, trace.duration_ms, trace.memory_mb):
        digest.update(np.ascontiguousarray(column).tobytes())
    return digest.hexdigest()[:16]


def trained_until(trace: Trace, cut_s: float) -> str:
    start = datetime.fromisoformat(trace.start.replace("Z", "+00:00"))
    return (start + timedelta(seconds=cut_s)).date().isoformat()


def _libraries() -> dict[str, str]:
    import gymnasium
    import stable_baselines3
    import torch

    return {
        "torch": torch.__version__,
        "stable-baselines3": stable_baselines3.__version__,
        "gymnasium": gymnasium.__version__,
        "numpy": np.__version__,
    }


class _Steps:
    """An SB3 callback reporting progress to ``report``."""

    def __init__(self, name: str, total: int, report: Progress | None) -> None:
        from stable_baselines3.common.callbacks import BaseCallback

        outer = self

        class Callback(BaseCallback):
            def _on_step(self) -> bool:
                if report is not None and self.num_timesteps % 256 == 0:
                    report(outer.name, self.num_timesteps, outer.total)
                return True

        self.name, self.total = name, total
        self.callback = Callback()


def train_strategic(train: Trace, config: HierarchyConfig, report: Progress | None) -> Any:
    from stable_baselines3 import DQN

    from skyroute.world.envs.strategic import StrategicEnv

    env = StrategicEnv(train, episode_length=config.episode_length)
    model = DQN(
        "MlpPolicy",
        env,
        learning_rate=config.dqn_learning_rate,
        learning_starts=min(1000, config.dqn_steps // 4),
        buffer_size=50_000,
        batch_size=64,
        exploration_fraction=0.3,
        target_update_interval=500,
        policy_kwargs={"net_arch": [64, 64]},
        gamma=config.gamma,
        seed=config.seed,
        device="cpu",
        max_grad_norm=10.0,
    )
    model.learn(
        config.dqn_steps, callback=_Steps("strategic DQN", config.dqn_steps, report).callback
    )
    return model


def train_tactical(train: Trace, config: HierarchyConfig, report: Progress | None) -> Any:
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    from skyroute.world.envs.tactical import TacticalEnv

    # One copy per provider: the tactical layer learns to place inside whichever it is given.
    makers: list[Callable[[], Any]] = [
        functools.partial(
            TacticalEnv,
            train,
            provider=p,
            episode_length=config.episode_length,
            relative_reward=True,
        )
        for p in ("aws", "azure", "gcp")
    ]
    env = DummyVecEnv(makers)
    model = PPO(
        "MlpPolicy",
        env,
        learning_rate=config.ppo_learning_rate,
        n_steps=256,
        batch_size=128,
        n_epochs=5,
        policy_kwargs={"net_arch": [128, 64]},
        gamma=config.gamma,
        seed=config.seed,
        device="cpu",
        max_grad_norm=0.5,
    )
    model.learn(
        config.ppo_steps, callback=_Steps("tactical PPO", config.ppo_steps, report).callback
    )
    return model


def strategic_module(model: Any) -> Any:
    """The DQN's Q-network: observation [n, 18] → Q-values [n, 3] (higher is better)."""
    from torch import nn

    class QValues(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q_net = model.q_net

        def forward(self, x: Any) -> Any:
            return self.q_net(x)

    return QValues()


def tactical_module(model: Any) -> Any:
    """The PPO actor: observation [n, 126] → action logits [n, 24] (higher is better)."""
    from torch import nn

    policy = model.policy

    class Logits(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.policy = policy

        def forward(self, x: Any) -> Any:
            features = self.policy.extract_features(x, self.policy.pi_features_extractor)
            return self.policy.action_net(self.policy.mlp_extractor.forward_actor(features))

    return Logits()


def _check_finite(name: str, module: Any) -> None:
    import torch

    from skyroute.errors import ConfigError

    for key, value in module.state_dict().items():
        if not torch.isfinite(value).all():
            raise ConfigError(
                f"the {name} diverged: {key} holds NaN or infinity",
                "lower its learning rate or raise max_grad_norm clipping",
            )


def export_layer(
    out_dir: Path,
    *,
    name: str,
    kind: str,
    module: Any,
    n_inputs: int,
    n_outputs: int,
    probe: np.ndarray,
    config: HierarchyConfig,
    until: str,
    data: str,
    metrics: dict[str, Any],
    observation: ObservationContract | None = None,
) -> Path:
    """ONNX export, checked against PyTorch, written as a bundle in ``out_dir/name``.

    A layer that reads an environment's observation records its ``observation`` contract
    (feature names and version), so a server refuses the bundle once its own code builds a
    different observation.
    """
    import tempfile

    from skyroute.bundles import write_bundle
    from skyroute.errors import ConfigError

    if observation is not None and observation.width != n_inputs:
        raise ConfigError(
            f"the {name} layer takes {n_inputs} inputs, its {observation.name} observation "
            f"contract lists {observation.width} features",
            "build the observation and its contract from skyroute.world.observations",
        )
    _check_finite(name, module)
    with tempfile.TemporaryDirectory() as tmp:
        model_file = Path(tmp) / f"{name}.onnx"
        error = export_onnx(module, n_inputs, model_file, probe)
        write_bundle(
            out_dir / name,
            name=name,
            version=f"{config.seed}",
            kind=kind,
            format="onnx",
            trained_until=until,
            model_file=model_file,
            inputs=[{"name": "x", "shape": [-1, n_inputs]}],
            outputs=[{"name": "y", "shape": [-1, n_outputs]}],
            features=observation.features if observation is not None else (),
            observation=observation.manifest_entry() if observation is not None else None,
            metrics={**metrics, "onnx_max_abs_error": error},
            params=config.to_dict(),
            libraries=_libraries(),
            code_version=__version__,
            data_fingerprint=data,
        )
    return out_dir / name
