"""Message catalogues, one YAML file per served language (`id.yaml`, `en.yaml`), flat keys."""

from __future__ import annotations

from pathlib import Path

import yaml

CATALOGUE_DIR = Path(__file__).resolve().parent


def load_catalogues(directory: Path = CATALOGUE_DIR) -> dict[str, dict[str, str]]:
    """Every catalogue in the folder, by language code."""
    catalogues: dict[str, dict[str, str]] = {}
    for path in sorted(directory.glob("*.yaml")):
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        catalogues[path.stem] = {str(k): str(v) for k, v in entries.items()}
    return catalogues
