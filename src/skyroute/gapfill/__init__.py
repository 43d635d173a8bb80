"""The gap filler: market data between a model's ``trained_until`` and today (docs/gapfill.md).

``store`` reads and writes market points, ``plan`` says what is missing, ``jobs`` persists fill
requests as chunks, ``worker`` claims and fills chunks so that a killed worker loses nothing.
"""
