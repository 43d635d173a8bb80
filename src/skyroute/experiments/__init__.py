"""Experiments: phased sweeps of a trainer's parameters, tracked in MLflow, executed locally or
on Ray, each phase's winner chosen by a rule over recorded metrics and fed to the next phase.

- ``trainer``: the one interface every trainer implements, and the registry of trainers;
- ``sweep``: the YAML sweep file, validated on load (file, line and what to fix);
- ``rules``: selection rules ("maximise accuracy where class_1_accuracy >= 0.30");
- ``runs``: one run -- its deterministic name, its execution and its outcome;
- ``tracking``: MLflow (runs, metrics per epoch, artifacts, tags, finished-run lookup);
- ``executors``: runs of a phase in parallel, in local processes or on Ray;
- ``engine``: the phases, one after the other;
- ``report``, ``promote``, ``notify``: the end of a sweep.

Nothing here is imported by ``import skyroute`` or by the server.
"""
