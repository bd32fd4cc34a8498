"""custdim benchmarks: run with ``python -m bench.run`` (or ``make bench``); see bench/README.md."""
