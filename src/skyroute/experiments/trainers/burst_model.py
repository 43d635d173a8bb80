"""The burst classifier as a torch module: LSTM, multi-head self-attention, a linear head.

``forward`` takes raw calls per minute [n, window] and returns P(burst ahead) [n, 1], so the
exported ONNX graph needs no preprocessing from its caller (like the load forecaster's). Inside,
each minute becomes three channels:

* ``log1p(calls)``: the level, which the label's minimum count depends on;
* ``log1p(calls) - log1p(window mean)``: the shape, which the label's factor depends on;
* a mask flag, 1 where pre-training hid the minute (always 0 when classifying).

The LSTM reads the channels in time order; self-attention lets every step look at every other
(a burst pattern an hour-long LSTM memory would blur); the head reads the attended sequence's
mean and its last step. Pre-training (:mod:`burst_fit`) reconstructs hidden minutes from the
same encoder through a separate one-number head.
"""

from __future__ import annotations

import math
from typing import Any

CHANNELS = 3


def make_model(*, window: int, hidden: int, heads: int, layers: int, dropout: float) -> Any:
    """A fresh ``BurstNet`` (torch is imported here, so importing this module stays light)."""
    import torch
    from torch import nn

    scale = 1.0 / math.sqrt(hidden // heads)

    class SelfAttention(nn.Module):
        """Multi-head scaled dot-product self-attention written out, so it exports to ONNX
        as plain MatMul/Softmax on every opset and runs the same in PyTorch and ONNX Runtime."""

        def __init__(self) -> None:
            super().__init__()
            self.qkv = nn.Linear(hidden, 3 * hidden)
            self.out = nn.Linear(hidden, hidden)
            self.drop = nn.Dropout(dropout)

        def forward(self, h: torch.Tensor) -> torch.Tensor:
            # [n, T, 3 * hidden] -> 3 x [n, heads, T, hidden / heads]
            split = self.qkv(h).unflatten(-1, (3, heads, hidden // heads))
            q, k, v = split.permute(2, 0, 3, 1, 4).unbind(0)
            weights = self.drop(torch.softmax(q @ k.transpose(-2, -1) * scale, dim=-1))
            attended: torch.Tensor = self.out((weights @ v).transpose(1, 2).flatten(2))
            return attended

    class BurstNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.window = window
            self.lstm = nn.LSTM(
                CHANNELS, hidden, num_layers=layers, batch_first=True,
                dropout=dropout if layers > 1 else 0.0,
            )  # fmt: skip
            self.attention = SelfAttention()
            self.norm = nn.LayerNorm(hidden)
            self.drop = nn.Dropout(dropout)
            self.head = nn.Linear(2 * hidden, 1)
            #: Pre-training only: log1p(calls) of each hidden minute.
            self.reconstruct = nn.Linear(hidden, 1)

        def channels(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
            """[n, T] raw counts (and a 0/1 mask of hidden minutes) -> [n, T, CHANNELS]."""
            level = torch.log1p(torch.clamp(x, min=0.0))
            shape = level - torch.log1p(torch.clamp(x, min=0.0).mean(dim=1, keepdim=True))
            flag = torch.zeros_like(level) if mask is None else mask
            if mask is not None:  # hidden minutes carry no value, only the flag
                level, shape = level * (1.0 - mask), shape * (1.0 - mask)
            return torch.stack([level, shape, flag], dim=-1)

        def encode(self, inputs: torch.Tensor) -> torch.Tensor:
            """[n, T, CHANNELS] -> [n, T, hidden]."""
            out, _ = self.lstm(inputs)
            encoded: torch.Tensor = self.norm(out + self.attention(out))
            return encoded

        def logits(self, x: torch.Tensor) -> torch.Tensor:
            """Raw counts [n, T] -> the burst logit [n]."""
            h = self.encode(self.channels(x))
            pooled = torch.cat([h.mean(dim=1), h[:, -1, :]], dim=-1)
            logit: torch.Tensor = self.head(self.drop(pooled)).squeeze(-1)
            return logit

        def reconstruction(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            """log1p(calls) predicted at every minute [n, T] with ``mask``'s minutes hidden."""
            rebuilt: torch.Tensor = self.reconstruct(self.encode(self.channels(x, mask)))
            return rebuilt.squeeze(-1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            probability: torch.Tensor = torch.sigmoid(self.logits(x)).unsqueeze(-1)
            return probability

    return BurstNet()
