"""One seeding function for every source of randomness a training run touches."""

from __future__ import annotations

import importlib.util
import random

import numpy as np


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and, when installed, PyTorch (CPU, deterministic, one thread).

    Models that need no PyTorch (the spot boosters) train without the ``rl`` extra.
    """
    random.seed(seed)
    np.random.seed(seed)
    if importlib.util.find_spec("torch") is None:
        return
    import torch

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.set_num_threads(1)
