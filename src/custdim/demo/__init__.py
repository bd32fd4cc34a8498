"""Sample data for ``custdim demo``, the tests and the benchmarks: a fictional retailer with three customer sources.

Use :func:`custdim.demo.generate.generate`. Nothing heavy is imported here so that ``import custdim.demo`` stays cheap.
"""
