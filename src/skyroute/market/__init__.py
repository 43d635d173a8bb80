"""Market data: spot and on-demand prices and grid carbon as time series, and their sources.

The world model ships single snapshots (docs/world.md); the decision server keeps series of
them in its database and fills the gap between a model's ``trained_until`` and today from the
sources in :mod:`skyroute.market.sources` (docs/gapfill.md).
"""
