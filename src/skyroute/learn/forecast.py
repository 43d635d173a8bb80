"""The load forecaster: a 2-layer LSTM over 12 minutes of calls that predicts the next 12.

Series are per-function calls per minute from the trace. Inputs and targets are log1p-scaled
and each window is normalised by its own level inside the model (:func:`make_model`), so the
exported ONNX graph takes raw counts ([n, window]) and returns calls per minute for minutes
t+1 .. t+12 ([n, HORIZON]) -- what the server's ``hierarchical`` engine
and :class:`skyroute.bundles.forecaster.Forecaster` feed it and read. The loss punishes
under-prediction ``under_weight`` times more than over-prediction (too few warm instances
costs cold starts; too many only costs idle time), at every horizon alike. Training stops with
a clear error on a NaN.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from skyroute.bundles.forecaster import HORIZON
from skyroute.errors import ConfigError
from skyroute.world.traces.schema import Trace

#: Functions with fewer calls than this over the trace are too sparse to learn a series from.
MIN_CALLS = 60
MAX_WINDOWS = 60_000


def minute_counts(trace: Trace, keep: NDArray[np.bool_] | None = None) -> NDArray[np.float32]:
    """Calls per minute, shape [functions, minutes]; rows of functions not in ``keep`` are 0.

    The minutes span the whole trace whichever functions are kept, so two callers that keep
    different functions still agree on which minute is which.
    """
    minutes = int(np.ceil(trace.timestamp_s[-1] / 60.0)) + 1
    index = trace.function.astype(np.int64) * minutes + (trace.timestamp_s // 60).astype(np.int64)
    calls = np.bincount(index, minlength=trace.n_functions * minutes)
    counts = calls.reshape(trace.n_functions, minutes).astype(np.float32)
    if keep is not None:
        counts[~keep] = 0.0
    return counts


class LoadWindows(NamedTuple):
    """Rows to train or score on: a function's ``window`` minutes and the ``horizon`` after
    (``HORIZON`` for the forecaster)."""

    x: NDArray[np.float32]  #: [n, window] calls per minute, oldest first
    y: NDArray[np.float32]  #: [n, horizon] calls per minute at t+1 .. t+horizon
    row: NDArray[np.int64]  #: the function (row of the counts) of each window
    first: NDArray[np.int64]  #: the minute of y[:, 0]


def windows(
    counts: NDArray[np.float32],
    window: int,
    start: int,
    stop: int,
    seed: int,
    *,
    horizon: int = HORIZON,
    limit: int | None = None,
    purpose: str = "train a load forecaster",
) -> LoadWindows:
    """Every window (inputs and the ``horizon`` minutes after) inside minutes [start, stop) of
    the busy functions, subsampled to ``limit`` (default ``MAX_WINDOWS``) with ``seed``.

    The burst classifier (``skyroute.experiments.trainers``) cuts its windows here too, with
    its own horizon and budget; ``purpose`` names what the windows are for in the error.
    """
    limit = MAX_WINDOWS if limit is None else limit
    busy = np.flatnonzero(counts.sum(axis=1) >= MIN_CALLS)
    span = window + horizon
    if busy.size == 0 or stop - start < span:
        raise ConfigError(
            f"the trace is too small to {purpose}",
            f"use a trace with functions of at least {MIN_CALLS} calls and more minutes",
        )
    view = np.lib.stride_tricks.sliding_window_view(counts[busy, start:stop], span, axis=1)
    per_series = view.shape[1]
    row = np.repeat(busy, per_series)
    first = np.tile(start + window + np.arange(per_series), busy.size)
    flat = view.reshape(-1, span)
    keep = np.arange(flat.shape[0])
    if flat.shape[0] > limit:
        keep = np.sort(np.random.default_rng(seed).choice(flat.shape[0], limit, replace=False))
    return LoadWindows(
        x=flat[keep, :window].astype(np.float32),
        y=flat[keep, window:].astype(np.float32),
        row=row[keep].astype(np.int64),
        first=first[keep].astype(np.int64),
    )


def make_model(hidden: int) -> Any:
    """The LSTM as a torch module: raw counts [n, window] → calls per minute [n, HORIZON].

    Scale-free: the LSTM reads each minute's log1p count minus the window's level (log1p of
    its mean) and predicts each coming minute's log1p as that level plus an offset. A function
    busier than any seen in training is then just another shape, not inputs out of range (fed
    raw log1p counts, the model forecast 700 calls/min for a function steady at 250 on the
    held-out hours).
    """
    import torch
    from torch import nn

    class LoadLSTM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(1, hidden, num_layers=2, batch_first=True)
            self.head = nn.Linear(hidden, HORIZON)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            rate: torch.Tensor = torch.exp(torch.relu(self.log_forward(x))) - 1.0
            return rate

        def log_forward(self, x: torch.Tensor) -> torch.Tensor:
            """log1p of the calls per minute at each horizon, [n, HORIZON] (what the loss sees)."""
            counts = torch.clamp(x, min=0.0)
            level = torch.log(counts.mean(dim=1, keepdim=True) + 1.0)
            out, _ = self.lstm((torch.log(counts + 1.0) - level).unsqueeze(-1))
            log_rate: torch.Tensor = level + self.head(out[:, -1, :])
            return log_rate

    return LoadLSTM()


def train(
    x: NDArray[np.float32],
    y: NDArray[np.float32],
    *,
    hidden: int,
    epochs: int,
    learning_rate: float,
    under_weight: float,
    on_epoch: Any = None,
) -> Any:
    """Fit the forecaster on ``y`` [n, HORIZON]; gradient clipping, and a ConfigError if the
    loss becomes NaN."""
    import torch

    model = make_model(hidden)
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


def predict(model: Any, x: NDArray[np.float32]) -> NDArray[np.float64]:
    """The trained torch model's calls per minute, [n, HORIZON]."""
    import torch

    with torch.no_grad():
        return np.asarray(model(torch.as_tensor(x)).numpy(), dtype=np.float64)
