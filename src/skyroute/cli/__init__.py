"""The ``skyroute`` command line: thin wrappers over library calls."""
