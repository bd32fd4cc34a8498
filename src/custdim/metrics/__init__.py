"""Quality metrics (no I/O): match quality against ground truth."""
