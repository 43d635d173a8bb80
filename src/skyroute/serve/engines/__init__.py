"""Decision engines: the contract (``contract``), the sandbox they run in (``sandbox``,
``worker``), the built-in ``rules`` example (``builtin_rules``) and the built-in spot mix
engine (``builtin_spot``). See docs/engines.md."""
