"""The end-of-sweep webhook (a local receiver) and Pushgateway export (Debian's pushgateway)."""

from __future__ import annotations

import logging
import socket
from dataclasses import replace
from typing import Any

import httpx
import pytest

from skyroute.experiments.notify import metric_name, post_webhook, push_metrics
from sweepmaker import sample_outcome


def test_webhook_posts_a_slack_compatible_summary(webhook_receiver: Any) -> None:
    assert post_webhook(webhook_receiver.url, sample_outcome()) is True
    [body] = webhook_receiver.bodies
    assert list(body) == ["text"]
    text = body["text"]
    assert "lstm-burst-study" in text
    assert "Champion: `lstm-burst-pretrain-02`" in text
    assert "accuracy 0.86, class_1_accuracy 0.42" in text
    assert "Failed: `lstm-burst-augment-04` (augment): loss became NaN at epoch 3" in text
    assert "11 runs, 1 failed" in text


def test_a_failing_webhook_is_a_warning(
    webhook_receiver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    webhook_receiver.status = 500
    with caplog.at_level(logging.WARNING, logger="skyroute.experiments.notify"):
        assert post_webhook(webhook_receiver.url, sample_outcome()) is False
    assert "not delivered: 500" in caplog.text
    assert len(webhook_receiver.bodies) == 1

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{closed.getsockname()[1]}/hook"
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="skyroute.experiments.notify"):
        assert post_webhook(nobody, sample_outcome(), timeout=2) is False
    assert "not delivered: ConnectError" in caplog.text


def test_pushgateway_holds_every_finished_runs_metrics(pushgateway: str) -> None:
    outcome = sample_outcome()
    assert push_metrics(pushgateway, outcome) is True
    exposed = httpx.get(f"{pushgateway}/metrics").text
    line = (
        'skyroute_sweep_class_1_accuracy{instance="",job="skyroute_sweep",phase="pretrain",'
        'run="lstm-burst-pretrain-02",sweep="lstm-burst-study"} 0.42'
    )
    assert line in exposed
    samples = [s for s in exposed.splitlines() if s.startswith("skyroute_sweep_accuracy{")]
    finished = [r for p in outcome.phases for r in p.runs if r.status == "finished"]
    assert len(samples) == len(finished) == 10
    assert "lstm-burst-augment-04" not in exposed  # the failed run has no metrics


def test_an_unreachable_pushgateway_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{closed.getsockname()[1]}"
    with caplog.at_level(logging.WARNING, logger="skyroute.experiments.notify"):
        assert push_metrics(nobody, sample_outcome(), timeout=2) is False
    assert "sweep metrics not pushed" in caplog.text


def test_metric_names_are_prometheus_safe() -> None:
    assert metric_name("class_1_accuracy") == "skyroute_sweep_class_1_accuracy"
    assert metric_name("Val F1-score (macro)") == "skyroute_sweep_val_f1_score_macro"
    assert metric_name("%%") == "skyroute_sweep_metric"


def test_pushgateway_holds_each_finished_runs_wall_time(pushgateway: str) -> None:
    # Its own sweep name: a group no other test on the same gateway replaces.
    outcome = replace(sample_outcome(), sweep="wall-time-study")
    for phase in outcome.phases:
        phase.runs[:] = [
            replace(run, seconds=60.0 * (i + 1)) if run.status == "finished" else run
            for i, run in enumerate(phase.runs)
        ]
    assert push_metrics(pushgateway, outcome) is True
    exposed = httpx.get(f"{pushgateway}/metrics").text
    line = (
        'skyroute_sweep_run_seconds{instance="",job="skyroute_sweep",phase="model",'
        'run="lstm-burst-model-03",sweep="wall-time-study"} 180'
    )
    assert line in exposed
    samples = [
        s for s in exposed.splitlines()
        if s.startswith("skyroute_sweep_run_seconds{") and 'sweep="wall-time-study"' in s
    ]  # fmt: skip
    assert len(samples) == 10  # the failed run has no wall time pushed
