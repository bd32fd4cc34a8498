"""The project file (``custdim.yaml``): typed, closed models and a loader whose errors name file and key."""

from custdim.config.loader import PROJECT_FILE, load_project_config
from custdim.config.project import ProjectConfig

__all__ = ["PROJECT_FILE", "ProjectConfig", "load_project_config"]
