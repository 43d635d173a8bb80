"""Decision engines: the contract (``contract``), the sandbox they run in (``sandbox``,
``worker``) and the built-in ``rules`` example (``builtin_rules``). See docs/engines.md."""
