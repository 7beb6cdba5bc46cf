"""The city configuration is checked at start; mistakes name the file, the line and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflows.city_config import ConfigError, load_city_config, parse_duration, sample_config_path

SAMPLE_KEYS = {
    "sampah",
    "jalan",
    "banjir",
    "penerangan",
    "lalu_lintas",
    "air",
    "adminduk",
    "kesehatan",
    "sosial",
    "ketertiban",
    "bencana",
    "pendidikan",
    "pungli",
    "lainnya",
}


def broken(tmp_path: Path, old: str, new: str) -> Path:
    text = sample_config_path().read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "city.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


def test_the_sample_city_is_valid_and_complete() -> None:
    city = load_city_config(sample_config_path())
    assert set(city.categories) == SAMPLE_KEYS
    assert city.city.reference_prefix == "ADU"
    assert city.categories["pungli"].sensitive and city.categories["pungli"].unit == "inspektorat"
    assert city.categories["lainnya"].unit == city.triage_unit
    assert city.sla_policies["darurat"].calendar == "continuous"


def test_unknown_unit_names_file_line_and_choices(tmp_path: Path) -> None:
    path = broken(tmp_path, "unit: dinsos", "unit: dinsoss")
    with pytest.raises(ConfigError) as error:
        load_city_config(path)
    message = str(error.value)
    assert f"{path}:{line_of(path, 'unit: dinsoss')}" in message
    assert "categories.sosial.unit" in message
    assert "use one of" in message and "dinsos" in message


def test_misspelt_setting_is_reported_where_it_is(tmp_path: Path) -> None:
    path = broken(
        tmp_path,
        "    location: optional\n    sla: standar\n    keywords:\n      id: [sekolah",
        "    locaton: optional\n    sla: standar\n    keywords:\n      id: [sekolah",
    )
    with pytest.raises(ConfigError) as error:
        load_city_config(path)
    assert f":{line_of(path, 'locaton:')}: categories.pendidikan.locaton" in str(error.value)
    assert "check the spelling" in str(error.value)


def test_bad_yaml_and_bad_duration(tmp_path: Path) -> None:
    path = broken(tmp_path, "response: 4h", "response: [4h")
    with pytest.raises(ConfigError) as error:
        load_city_config(path)
    assert "not valid YAML" in str(error.value)
    path = broken(tmp_path, "response: 4h", "response: 4 jam")
    with pytest.raises(ConfigError) as error:
        load_city_config(path)
    assert "30s, 15m, 4h or 2d" in str(error.value)
    assert f":{line_of(path, 'response: 4 jam')}:" in str(error.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_city_config(tmp_path / "nowhere.yaml")
    assert "nowhere.yaml" in str(error.value) and "cannot be read" in str(error.value)


def test_durations() -> None:
    assert parse_duration("30s").total_seconds() == 30
    assert parse_duration("1.5d").total_seconds() == 36 * 3600


def test_text_overrides_are_checked_against_the_catalogues(
    tmp_path: Path, catalogues: dict[str, dict[str, str]]
) -> None:
    path = broken(
        tmp_path,
        "texts:\n  id: {}\n  en: {}",
        'texts:\n  id:\n    menu.help: "❓ Tolong"\n    menu.hepl: "x"\n'
        '    intake.submitted: "Nomor {nomor}"\n  en:\n    menu.ask: "<br>How can we help?"',
    )
    with pytest.raises(ConfigError) as error:
        load_city_config(path, catalogues)
    message = str(error.value)
    assert f":{line_of(path, 'menu.hepl')}: texts.id.menu.hepl: is not a catalogue text" in message
    assert "texts.id.intake.submitted: uses ['nomor']" in message and "{reference}" in message
    assert f":{line_of(path, '<br>')}: texts.en.menu.ask: has markup other than" in message
    assert "menu.help" not in message  # the good override passes
    assert load_city_config(path).texts["id"]["menu.help"] == "❓ Tolong"  # without catalogues: not checked
