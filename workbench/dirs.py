"""Where the workbench keeps its files on the host (XDG directories through platformdirs).

``WORKBENCH_CACHE_DIR`` overrides the cache root (images, instances); tests point it at a
temporary or shared directory. Nothing here creates directories at import.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def cache_dir() -> Path:
    """Cache root: base images in ``images/``, one directory per project in ``instances/``."""
    override = os.environ.get("WORKBENCH_CACHE_DIR")
    if override:
        return Path(override).expanduser().resolve()
    return platformdirs.user_cache_path("workbench")


def images_dir() -> Path:
    return cache_dir() / "images"


def instances_dir() -> Path:
    return cache_dir() / "instances"


def config_dir() -> Path:
    """User configuration (an extra image index, templates folders)."""
    override = os.environ.get("WORKBENCH_CONFIG_DIR")
    if override:
        return Path(override).expanduser().resolve()
    return platformdirs.user_config_path("workbench")
