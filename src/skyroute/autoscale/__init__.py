"""Predictive autoscaling: how many replicas a service needs, from the load forecaster, compared
in replay with the reactive scaling (utilisation target, start-up delay, cool-down) that
Kubernetes' HPA does. ``scaling`` holds the pure policies and their score; ``replay`` feeds
them a trace and a ``forecast.load`` bundle."""
