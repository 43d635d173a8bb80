"""Training (never imported by the server): hierarchical placement policies and forecasters,
exported as bundles (docs/learn.md). Needs the ``rl`` extra (PyTorch, Stable-Baselines3)."""
