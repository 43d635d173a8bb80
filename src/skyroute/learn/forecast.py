"""The load forecaster: a 2-layer LSTM over 12 minutes of calls that predicts the next minute.

Series are per-function calls per minute from the trace. Inputs and targets are log1p-scaled
inside the model, so the exported ONNX graph takes raw counts ([n, 12]) and returns calls per
minute ([n, 1]) -- exactly what the server's ``hierarchical`` engine feeds it. The loss punishes
under-prediction ``under_weight`` times more than over-prediction (too few warm instances costs
cold starts; too many only costs idle time). Training stops with a clear error on a NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyroute.errors import ConfigError
from skyroute.world.traces.schema import Trace

#: Functions with fewer calls than this over the trace are too sparse to learn a series from.
MIN_CALLS = 60
MAX_WINDOWS = 60_000


def minute_counts(trace: Trace) -> NDArray[np.float32]:
    """Calls per minute, shape [functions, minutes]."""
    minutes = int(np.ceil(trace.timestamp_s[-1] / 60.0)) + 1
    index = trace.function.astype(np.int64) * minutes + (trace.timestamp_s // 60).astype(np.int64)
    counts = np.bincount(index, minlength=trace.n_functions * minutes)
    return counts.reshape(trace.n_functions, minutes).astype(np.float32)


def windows(
    counts: NDArray[np.float32], window: int, start: int, stop: int, seed: int
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """(x [n, window], y [n]) from minutes [start, stop) of the busy functions, subsampled."""
    busy = counts[counts.sum(axis=1) >= MIN_CALLS]
    if busy.shape[0] == 0 or stop - start <= window:
        raise ConfigError(
            "the trace is too small to train a load forecaster",
            f"use a trace with functions of at least {MIN_CALLS} calls and more minutes",
        )
    xs, ys = [], []
    for series in busy:
        part = series[start:stop]
        view = np.lib.stride_tricks.sliding_window_view(part, window + 1)
        xs.append(view[:, :window])
        ys.append(view[:, window])
    x, y = np.concatenate(xs), np.concatenate(ys)
    if x.shape[0] > MAX_WINDOWS:
        keep = np.random.default_rng(seed).choice(x.shape[0], MAX_WINDOWS, replace=False)
        x, y = x[np.sort(keep)], y[np.sort(keep)]
    return x.astype(np.float32), y.astype(np.float32)


def make_model(window: int, hidden: int) -> Any:
    import torch
    from torch import nn

    class Forecaster(nn.Module):
        """Raw counts [n, window] → next-minute calls [n, 1]."""

        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(1, hidden, num_layers=2, batch_first=True)
            self.head = nn.Linear(hidden, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out, _ = self.lstm(torch.log(torch.clamp(x, min=0.0) + 1.0).unsqueeze(-1))
            rate: torch.Tensor = torch.exp(torch.relu(self.head(out[:, -1, :]))) - 1.0
            return rate

        def log_forward(self, x: torch.Tensor) -> torch.Tensor:
            out, _ = self.lstm(torch.log(torch.clamp(x, min=0.0) + 1.0).unsqueeze(-1))
            log_rate: torch.Tensor = self.head(out[:, -1, :]).squeeze(-1)
            return log_rate

    return Forecaster()


@dataclass(frozen=True)
class ForecastMetrics:
    r2: float
    rmse: float
    naive_rmse: float


def score(predicted: NDArray[Any], x: NDArray[Any], y: NDArray[Any]) -> ForecastMetrics:
    """R² and RMSE in calls/minute, with the last-value forecast's RMSE for scale."""
    residual = float(np.sum((y - predicted) ** 2))
    total = float(np.sum((y - y.mean()) ** 2)) or 1.0
    return ForecastMetrics(
        r2=1.0 - residual / total,
        rmse=float(np.sqrt(np.mean((y - predicted) ** 2))),
        naive_rmse=float(np.sqrt(np.mean((y - x[:, -1]) ** 2))),
    )


def train(
    x: NDArray[np.float32],
    y: NDArray[np.float32],
    *,
    window: int,
    hidden: int,
    epochs: int,
    learning_rate: float,
    under_weight: float,
    on_epoch: Any = None,
) -> Any:
    """Fit the forecaster; gradient clipping, and a ConfigError if the loss becomes NaN."""
    import torch

    model = make_model(window, hidden)
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    inputs, targets = torch.as_tensor(x), torch.log1p(torch.as_tensor(y))
    generator = torch.Generator().manual_seed(0)
    for epoch in range(epochs):
        order = torch.randperm(inputs.shape[0], generator=generator)
        for start in range(0, inputs.shape[0], 512):
            batch = order[start : start + 512]
            error = model.log_forward(inputs[batch]) - targets[batch]
            # Under-prediction (error < 0) costs ``under_weight`` times more.
            weight = torch.where(error < 0, under_weight, 1.0)
            loss = torch.mean(weight * error**2)
            if not torch.isfinite(loss):
                raise ConfigError(
                    f"the forecaster's loss became {loss.item()} in epoch {epoch + 1}",
                    "lower --lstm-learning-rate; check the trace for extreme counts",
                )
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
        if on_epoch is not None:
            on_epoch(epoch)
    model.eval()
    return model
