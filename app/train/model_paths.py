"""Where the studio writes trained models, and how it names them (never overwriting one)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import platformdirs

from distill.constants import MODEL_SUFFIX


def default_models_dir() -> Path:
    """``user_data_dir("distill-studio")/models``: where trained models are written."""
    return Path(platformdirs.user_data_dir("distill-studio")) / "models"


def new_model_path(folder: Path, dataset_name: str, when: datetime) -> Path:
    """``folder/<dataset>-<YYYYmmdd-HHMMSS>.distill`` (the name made safe for a file name),
    with ``~2``, ``~3``... added when such a file exists: a model is never overwritten."""
    safe = re.sub(r"[^\w.-]+", "_", dataset_name).strip("._") or "model"
    stem = f"{safe}-{when:%Y%m%d-%H%M%S}"
    path, counter = folder / f"{stem}{MODEL_SUFFIX}", 2
    while path.exists():
        path, counter = folder / f"{stem}~{counter}{MODEL_SUFFIX}", counter + 1
    return path
