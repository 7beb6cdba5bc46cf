"""Message catalogues, flat keys, per served language: `id.yaml` and `en.yaml`, and beside them one
file per feature (`id.broadcast.yaml`, `en.broadcast.yaml`): the language is the name up to the
first dot. A key defined twice for one language is an error, not a silent override."""

from __future__ import annotations

from pathlib import Path

import yaml

CATALOGUE_DIR = Path(__file__).resolve().parent


def load_catalogues(directory: Path = CATALOGUE_DIR) -> dict[str, dict[str, str]]:
    """Every catalogue in the folder, by language code."""
    catalogues: dict[str, dict[str, str]] = {}
    origin: dict[tuple[str, str], str] = {}
    for path in sorted(directory.glob("*.yaml"), key=lambda p: (p.name.count("."), p.name)):  # id.yaml first
        language = path.name.split(".", 1)[0]
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        catalogue = catalogues.setdefault(language, {})
        for key, value in entries.items():
            if (language, str(key)) in origin:
                raise ValueError(f"{path.name}: {key!r} is already in {origin[language, str(key)]}")
            origin[language, str(key)] = path.name
            catalogue[str(key)] = str(value)
    return catalogues
