"""custdim: an enhanced customer dimension, built in your data lake.

The public entry point is :class:`custdim.project.Project`; everything else is an implementation detail of its
stages. Heavy libraries (ibis, pyarrow, pyspark) are imported lazily so that ``custdim --help`` stays fast.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
