"""The inference-only decision server: models, engines, decisions, tenants (docs/serve.md)."""
