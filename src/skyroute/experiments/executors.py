"""Where a phase's runs execute, in parallel: local processes (the default) or Ray.

Both run the same function (``runs.execute``) on the same specs, so the same seeds give the
same metrics on either; both hand results back as they finish. Ray is started locally for
the sweep (and stopped after) unless ``--ray-address`` names a cluster, which is checked before
anything starts. A run asks for ``resources.cpus`` / ``gpus`` (Ray schedules by them; locally
they set how many runs share the machine's cores).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Protocol

from skyroute.errors import SkyRouteError
from skyroute.experiments.runs import RunPayload, RunSpec, execute


class ExecutorError(SkyRouteError):
    code = "executor_unavailable"


class Executor(Protocol):
    def run(self, specs: Sequence[RunSpec]) -> Iterator[tuple[RunSpec, RunPayload]]:
        """Execute ``specs``; yield each with its payload as it finishes."""
        ...

    def close(self) -> None: ...


def local_jobs(cpus_per_run: float) -> int:
    return max(1, int((os.cpu_count() or 1) // max(cpus_per_run, 1e-9)))


class LocalExecutor:
    """A pool of fresh processes (spawned: no state inherited from the sweep's process)."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self._pool: ProcessPoolExecutor | None = None

    def run(self, specs: Sequence[RunSpec]) -> Iterator[tuple[RunSpec, RunPayload]]:
        if not specs:
            return
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=context)
        pending = {self._pool.submit(execute, spec): spec for spec in specs}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                spec = pending.pop(future)
                try:
                    yield spec, future.result()
                except Exception as exc:  # the worker process died (e.g. out of memory)
                    yield spec, RunPayload(spec.name, error=f"the worker died: {exc!r}")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class RayExecutor:
    """Runs as Ray tasks: on a local Ray started for the sweep, or on a cluster by address."""

    def __init__(self, address: str | None, jobs: int | None = None) -> None:
        import ray

        if address is not None and not address.startswith("auto"):
            _reachable(address)
        self._started = not ray.is_initialized()
        if self._started:
            try:
                if address is None:
                    # Workers of a Ray started here import what this process can (a trainer
                    # given as module:ATTRIBUTE from the caller's own folders included).
                    paths = os.pathsep.join(p for p in sys.path if p)
                    ray.init(
                        num_cpus=jobs or os.cpu_count(), include_dashboard=False,
                        log_to_driver=False, logging_level=logging.ERROR,
                        runtime_env={"env_vars": {"PYTHONPATH": paths}},
                    )  # fmt: skip
                else:
                    ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
            except (ConnectionError, RuntimeError) as exc:
                raise ExecutorError(
                    f"cannot start or join Ray{f' at {address}' if address else ''} ({exc})",
                    "check --ray-address (host:port of the head node, or ray://host:10001)",
                ) from None
        self._task: Any = ray.remote(execute)

    def run(self, specs: Sequence[RunSpec]) -> Iterator[tuple[RunSpec, RunPayload]]:
        import ray

        refs = {
            self._task.options(num_cpus=spec.cpus, num_gpus=spec.gpus).remote(spec): spec
            for spec in specs
        }
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            for ref in done:
                spec = refs.pop(ref)
                try:
                    yield spec, ray.get(ref)
                except Exception as exc:  # the task's worker died
                    yield spec, RunPayload(spec.name, error=f"the Ray task failed: {exc!r}")

    def close(self) -> None:
        import ray

        if self._started and ray.is_initialized():
            ray.shutdown()


def _reachable(address: str) -> None:
    """Refuse an address nobody listens on, in seconds rather than Ray's long retries."""
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=3):
            return
    except (OSError, ValueError) as exc:
        raise ExecutorError(
            f"no Ray cluster answers at {address} ({exc})",
            "start one (`ray start --head`) or check --ray-address (host:port)",
        ) from None


def make_executor(kind: str, ray_address: str | None, jobs: int) -> Executor:
    if kind == "ray":
        return RayExecutor(ray_address, jobs)
    if ray_address is not None:
        raise ExecutorError("--ray-address needs --executor ray", "add --executor ray")
    return LocalExecutor(jobs)
