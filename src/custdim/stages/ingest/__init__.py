"""Ingest (the Data Factory "copy" step): land source files as Parquet under raw/, rejects kept with a reason."""
