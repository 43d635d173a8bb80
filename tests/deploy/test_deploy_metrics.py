"""The metric-name extraction the deploy tests rely on: it must not miss or invent names."""

from __future__ import annotations

from deploy_metrics import grafana_to_promql, known_metric, promql_metric_names


def test_names_are_found_and_functions_labels_and_keywords_left_out() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (le, route) (rate(skyroute_http_request_seconds_bucket"
        '{route=~"/api/v1/ml/(decide|route)"}[5m]))) > 0.05 and on (engine) '
        "sum without (provider) (rate(skyroute_decisions_total[$__rate_interval])) "
        "or time() - max(push_time_seconds) > 26 * 3600"
    )
    assert promql_metric_names(grafana_to_promql(expr)) == {
        "skyroute_http_request_seconds_bucket", "skyroute_decisions_total", "push_time_seconds",
    }  # fmt: skip


def test_known_metrics_come_from_the_servers_registry_and_the_sweeps() -> None:
    assert known_metric("skyroute_http_request_seconds_count")
    assert known_metric("skyroute_live_subscribers_dropped_total")
    assert known_metric("skyroute_sweep_accuracy")
    assert known_metric("up")
    assert not known_metric("skyroute_http_request_seconds")  # a histogram has no bare series
    assert not known_metric("skyroute_decisions")  # counters are exposed with _total
    assert not known_metric("skyroute_decision_total")  # a typo
