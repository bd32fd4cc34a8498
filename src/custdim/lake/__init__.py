"""The lake: zones, paths and atomic publishing over fsspec, plus CDM metadata (de)serialization."""

from custdim.lake.layout import Lake

__all__ = ["Lake"]
