"""The ``custdim`` command line: a thin layer over :class:`custdim.project.Project`."""
