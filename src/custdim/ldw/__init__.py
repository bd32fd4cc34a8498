"""The logical data warehouse: the SQL surface over the published views (CLI today, SQL endpoint and web app later).

Every user query passes :func:`custdim.ldw.guard.check_query` and then runs on a locked-down, read-only engine
connection (:mod:`custdim.ldw.query`). Submodules are imported on demand so that loading the package stays cheap.
"""
