"""``skyroute train hierarchy``: DQN picks the provider, PPO picks region × memory, an LSTM
forecasts load; each layer is exported to ONNX (checked against PyTorch) in its own bundle.

The policies train on the first ``1 - holdout_hours`` of the trace's hours; the rest is left for
``skyroute evaluate``. The bundles' inputs are the environments' observations
(docs/environments.md), which the server's ``hierarchical`` engine builds the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyroute import __version__
from skyroute.learn.config import HierarchyConfig
from skyroute.learn.export import export_onnx
from skyroute.world.observations import ObservationContract
from skyroute.world.requests import Requests
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
    import sb3_contrib
    import stable_baselines3
    import torch

    return {
        "torch": torch.__version__,
        "stable-baselines3": stable_baselines3.__version__,
        "sb3-contrib": sb3_contrib.__version__,
        "gymnasium": gymnasium.__version__,
        "numpy": np.__version__,
    }


@dataclass(frozen=True)
class Experience:
    """Full-information training data: every candidate's realised outcome for sampled calls.

    Offline, the simulator knows what every action would have cost for every call (a contextual
    bandit with full information), so both layers are fitted on all actions at once instead of
    learning from the one action an agent happened to try.
    """

    #: Tactical observations per (call, provider) [B, P, width].
    tactical: NDArray[np.float32]
    #: Tactical action masks [B, P, K].
    mask: NDArray[np.bool_]
    #: Realised objective of each candidate, relative to the call's reference [B, P, K].
    relative: NDArray[np.float64]
    #: Strategic observations [B, width].
    strategic: NDArray[np.float32]
    #: The reference placement's objective per call (weights calls as the metric does) [B].
    reference: NDArray[np.float64]


def experience(data: Any, rows: NDArray[np.int64], report: Progress | None) -> Experience:
    """Observations and every candidate's realised relative objective for ``rows``."""
    from skyroute.world import dynamics as dyn

    parts: list[Experience] = []
    chunk = 4096
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        ranked = dyn.rank_candidates(data, part)
        n_providers = ranked.placements.shape[1]
        reference = dyn.reference_objective(data, part)
        realised = dyn.realised_objective(data, part, ranked.placements.reshape(len(part), -1))
        tactical = np.stack(
            [
                dyn.tactical_observation(data, part, np.full(len(part), k), ranked)
                for k in range(n_providers)
            ],
            axis=1,
        )
        parts.append(
            Experience(
                tactical=tactical,
                mask=ranked.valid,
                relative=(realised / reference[:, None]).reshape(ranked.valid.shape),
                strategic=dyn.strategic_observation(data, part, ranked),
                reference=reference,
            )
        )
        if report is not None:
            report("experience", min(start + chunk, len(rows)), len(rows))
    return Experience(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in Experience.__annotations__)
    )


#: Relative objectives are clipped to this before fitting (a failing candidate's can be huge).
TARGET_CLIP = 8.0


@dataclass(frozen=True)
class Regression:
    """Inputs, per-action targets (higher is better), the usable actions and row weights."""

    x: NDArray[np.float32]
    target: NDArray[np.float64]
    mask: NDArray[np.bool_]
    weight: NDArray[np.float64]

    def decision_value(self, scores: NDArray[np.float32]) -> float:
        """Weighted mean target of the best-scored usable action: what acting on it is worth."""
        pick = np.argmax(np.where(self.mask, scores, -np.inf), axis=1)
        chosen = self.target[np.arange(len(pick)), pick]
        return float(np.sum(self.weight * chosen) / max(float(self.weight.sum()), 1e-12))


def _fit(
    name: str,
    module: Any,
    data: Regression,
    held: Regression,
    config: HierarchyConfig,
    report: Progress | None,
) -> dict[str, float]:
    """Regress ``module(x)`` on the targets where usable (weighted MSE, Adam, clipping).

    After every epoch the decisions the module would take on ``held`` (functions never fitted
    on) are scored; the weights of the best epoch are kept -- early stopping on how well the
    layer generalises to new functions, which is the failure a fit on 500 functions risks.
    """
    import copy

    import torch

    from skyroute.errors import ConfigError

    generator = torch.Generator().manual_seed(config.seed)
    inputs = torch.as_tensor(data.x)
    goal = torch.as_tensor(np.clip(data.target, -TARGET_CLIP, TARGET_CLIP), dtype=torch.float32)
    where = torch.as_tensor(data.mask, dtype=torch.float32)
    w = torch.as_tensor(data.weight / max(float(data.weight.mean()), 1e-12), dtype=torch.float32)
    params = list(module.parameters())
    optimiser = torch.optim.Adam(params, lr=config.learning_rate)
    best = (-np.inf, 0, copy.deepcopy(module.state_dict()))
    for epoch in range(config.epochs):
        order = torch.randperm(inputs.shape[0], generator=generator)
        for start in range(0, inputs.shape[0], config.batch_size):
            batch = order[start : start + config.batch_size]
            error = (module(inputs[batch]) - goal[batch]) ** 2 * where[batch]
            loss = torch.sum(w[batch, None] * error) / torch.clamp(where[batch].sum(), min=1.0)
            if not torch.isfinite(loss):
                raise ConfigError(
                    f"the {name} loss became {loss.item()} in epoch {epoch + 1}",
                    "lower learning_rate",
                )
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
        with torch.no_grad():
            value = held.decision_value(module(torch.as_tensor(held.x)).numpy())
        if value > best[0]:
            best = (value, epoch + 1, copy.deepcopy(module.state_dict()))
        if report is not None:
            report(name, epoch + 1, config.epochs)
    module.load_state_dict(best[2])
    return {"best_epoch": best[1], "held_out_gain": round(best[0], 6)}


def tactical_targets(relative: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each candidate's gain over rank 1, in reference objectives (higher is better)."""
    gain: NDArray[np.float64] = relative[..., :1] - relative
    return gain


def tactical_regression(exp: Experience) -> Regression:
    """One row per (call, provider): the provider's candidates' gains over its rank 1."""
    n, n_providers, k = exp.mask.shape
    mask = exp.mask.copy()
    mask[..., 0] = True
    return Regression(
        x=exp.tactical.reshape(n * n_providers, -1),
        target=tactical_targets(exp.relative).reshape(n * n_providers, k),
        mask=mask.reshape(n * n_providers, k),
        weight=np.repeat(exp.reference, n_providers),
    )


def fit_tactical(
    train: Trace,
    world: Any,
    exp: Experience,
    held: Experience,
    config: HierarchyConfig,
    report: Progress | None,
) -> tuple[Any, dict[str, float]]:
    """MaskablePPO's actor, its logits fitted to every candidate's realised gain over rank 1."""
    from sb3_contrib import MaskablePPO

    from skyroute.world.envs.tactical import TacticalEnv

    env = TacticalEnv(train, world, episode_length=config.episode_length, relative_reward=True)
    model = MaskablePPO(
        "MlpPolicy", env, learning_rate=config.ppo_learning_rate, n_steps=256, batch_size=128,
        n_epochs=5, gamma=config.gamma, seed=config.seed, device="cpu",
        policy_kwargs={"net_arch": list(config.hidden)},
    )  # fmt: skip
    fitted = _fit(
        "tactical PPO (fit)", tactical_module(model), tactical_regression(exp),
        tactical_regression(held), config, report,
    )  # fmt: skip
    if config.ppo_steps:
        model.learn(config.ppo_steps)
    return model, fitted


def tactical_choice(model: Any, exp: Experience) -> NDArray[np.int64]:
    """The fitted tactical layer's action per (call, provider) [B, P]."""
    import torch

    actor = tactical_module(model)
    n, n_providers, k = exp.mask.shape
    with torch.no_grad():
        logits = actor(torch.as_tensor(exp.tactical.reshape(n * n_providers, -1))).numpy()
    mask = exp.mask.reshape(n * n_providers, k).copy()
    mask[:, 0] = True
    choice: NDArray[np.int64] = np.argmax(np.where(mask, logits, -np.inf), axis=1).reshape(
        n, n_providers
    )
    return choice


def strategic_regression(exp: Experience, tactical: Any) -> Regression:
    """One row per call: each provider's realised value (given the tactical layer's choice
    there) over the best rank-1 candidate's, in reference objectives."""
    picked = tactical_choice(tactical, exp)
    relative = np.take_along_axis(exp.relative, picked[..., None], axis=2)[..., 0]  # [B, P]
    usable = exp.mask[..., 0]
    baseline = np.min(np.where(usable, exp.relative[..., 0], np.inf), axis=1, keepdims=True)
    value = np.where(usable, baseline - relative, -TARGET_CLIP)
    return Regression(exp.strategic, value, np.ones_like(usable), exp.reference)


def fit_strategic(
    train: Trace,
    world: Any,
    exp: Experience,
    held: Experience,
    tactical: Any,
    config: HierarchyConfig,
    report: Progress | None,
) -> tuple[Any, dict[str, float]]:
    """DQN's Q-network fitted on every provider's realised value given the tactical layer.

    With discount 0 and every action's reward observed, DQN's target for each action is its
    reward: the fit is DQN's regression done on all actions at once (fitted Q-iteration).
    """
    from stable_baselines3 import DQN

    from skyroute.world.envs.strategic import StrategicEnv

    env = StrategicEnv(train, world, episode_length=config.episode_length)
    model = DQN(
        "MlpPolicy", env, learning_rate=config.dqn_learning_rate, learning_starts=0,
        buffer_size=10_000, batch_size=64, gamma=config.gamma, seed=config.seed, device="cpu",
        policy_kwargs={"net_arch": list(config.hidden)},
    )  # fmt: skip
    fitted = _fit(
        "strategic DQN (fit)", strategic_module(model), strategic_regression(exp, tactical),
        strategic_regression(held, tactical), config, report,
    )  # fmt: skip
    if config.dqn_steps:
        model.learn(config.dqn_steps)
    return model, fitted


def strategic_module(model: Any, margin: float = 0.0) -> Any:
    """The DQN's Q-network: observation [n, 50] → Q-values [n, 3] (higher is better).

    ``margin`` (in reference objectives) is added to the provider whose best candidate has the
    lowest expected objective -- greedy's provider -- so the layer leaves it only for a
    predicted gain larger than that (chosen on validation hours, see ``select_margin``).
    """
    import torch
    from torch import nn

    from skyroute.world.observations import CANDIDATE_FEATURES, REQUEST_FEATURES

    first = len(REQUEST_FEATURES) + CANDIDATE_FEATURES.index("log2_objective_ratio")
    step = len(CANDIDATE_FEATURES)

    class QValues(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q_net = model.q_net

        def forward(self, x: Any) -> Any:
            q = self.q_net(x)
            expected = x[:, first::step][:, : q.shape[1]]
            greedy = nn.functional.one_hot(torch.argmin(expected, dim=1), q.shape[1])
            return q + margin * greedy.to(q.dtype)

    return QValues()


def tactical_module(model: Any, margin: float = 0.0) -> Any:
    """The (Maskable)PPO actor: observation [n, 115] → action logits [n, 8] (higher is better).

    The logits are each candidate's predicted gain over rank 1; ``margin`` is taken off every
    rank but the first, so the layer leaves greedy's choice only for a larger predicted gain.
    """
    import torch
    from torch import nn

    policy = model.policy

    class Logits(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.policy = policy

        def forward(self, x: Any) -> Any:
            features = self.policy.extract_features(x, self.policy.pi_features_extractor)
            logits = self.policy.action_net(self.policy.mlp_extractor.forward_actor(features))
            offset = torch.full_like(logits[:1], -margin)
            offset[:, 0] = 0.0
            return logits + offset

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
    reference: dict[str, Any] | None = None,
) -> Path:
    """ONNX export, checked against PyTorch, written as a bundle in ``out_dir/name``.

    ``reference`` is the distribution of the request profiles the layer was trained on
    (:func:`profile_reference`), which the server's input drift check compares with.

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
            reference=reference,
        )
    return out_dir / name


def profile_reference(requests: Requests, seed: int) -> dict[str, Any]:
    """The training reference of the /decide profile fields: what each training request
    carried (its function's mean duration and payload, p95 footprint and call rate)."""
    from skyroute.bundles.reference import input_reference

    return input_reference(
        {
            "duration_ms": requests.expected.duration_ms,
            "memory_mb": requests.expected.memory_mb,
            "payload_kb": requests.expected.payload_kb,
            "rate_per_min": requests.rate_per_min,
        },
        seed=seed,
    )
