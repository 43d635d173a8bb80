"""SkyRoute: learn where cloud workloads should run and serve those decisions live.

Importing the package is cheap: heavy stacks (torch, gymnasium, matplotlib, pandas) load lazily
in the modules that need them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
