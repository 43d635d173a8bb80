"""The sweepable trainers ``skyroute.experiments.trainer.TRAINERS`` names (docs/experiments.md,
"Trainers"): ``lstm_burst`` (with ``burst_data``, ``augment``, ``burst_model``, ``burst_fit``,
``burst_run``, ``burst_export``), ``router`` and ``hierarchy``; ``base`` holds what they share.
Nothing here imports MLflow or Ray, and torch only inside the functions that train.
"""
