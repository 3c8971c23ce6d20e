"""valuemesh: a knowledge-graph catalog of Data Mesh data products."""

__version__ = "0.1.0"
