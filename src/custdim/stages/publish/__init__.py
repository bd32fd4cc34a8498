"""Publish: an immutable CDM snapshot under export/, the manifest swapped last, then the SQL views."""
