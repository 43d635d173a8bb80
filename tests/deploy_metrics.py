"""Which metric names exist, and which a PromQL expression names (the deploy tests' checks).

Exported: the server's registry (``Metrics.create()``: counters as ``<name>_total``, histograms
as ``_bucket``, ``_sum`` and ``_count``), the sweeps' Pushgateway metrics (``skyroute_sweep_*``
and the gateway's ``push_time_seconds``) and Prometheus's own ``up``.
"""

from __future__ import annotations

import re
from functools import cache

SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gauge": ("",),
    "summary": ("", "_sum", "_count", "_created"),
}
PUSHGATEWAY = frozenset({"push_time_seconds", "push_failure_time_seconds"})
STANDARD = frozenset({"up"})
KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
     "unless", "offset", "inf", "nan"}
)  # fmt: skip
#: Grafana's built-in interval variables, replaced by a duration so promtool can parse.
GRAFANA_INTERVALS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


@cache
def server_metric_names() -> frozenset[str]:
    from skyroute.serve.metrics import Metrics

    names: set[str] = set()
    for family in Metrics.create().registry.collect():
        names.update(family.name + suffix for suffix in SUFFIXES[family.type])
    return frozenset(names)


def known_metric(name: str) -> bool:
    if name.startswith("skyroute_sweep_"):
        return True
    return name in server_metric_names() or name in PUSHGATEWAY or name in STANDARD


def grafana_to_promql(expr: str) -> str:
    for variable, duration in GRAFANA_INTERVALS.items():
        expr = expr.replace(variable, duration)
    return expr


def promql_metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (functions, keywords and label names left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text
    )  # grouping label lists
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in KEYWORDS or re.fullmatch(r"\d+[smhdwy]", word):
            continue
        names.add(word)
    return names
