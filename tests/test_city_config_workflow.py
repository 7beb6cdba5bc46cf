"""The workflow sections of the city configuration are checked at start, each mistake located.

Working time, SLA alerts, the digest, "me too", officers, unit fallbacks and per-area units: a
city's IT team reads the file, the line and what to change, as for the older sections.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_city_config import broken, line_of
from workflows.city_config import ConfigError, load_city_config, sample_config_path


def problem(path: Path) -> str:
    with pytest.raises(ConfigError) as error:
        load_city_config(path)
    return str(error.value)


def test_the_sample_city_has_the_workflow_sections() -> None:
    city = load_city_config(sample_config_path())
    assert city.categories["sampah"].area_units == {"pesisir": "kec_pesisir"}
    assert city.categories["sampah"].proof_photo
    assert city.units["kec_pesisir"].fallback == "dlh"
    assert city.triage_unit == "triase"
    assert city.areas_geojson == "sample_areas.geojson"
    assert city.sla_alerts.reminders == [0.5, 0.9]
    assert city.digest.time == "07:00"
    assert (city.duplicates.radius_m, city.duplicates.within, city.duplicates.priority_at) == (150, "14d", 3)
    assert city.officers.invite_valid == "7d"
    assert city.areas["sukamaju"].parent == "kota_barat"


def test_area_units_naming_an_unknown_unit(tmp_path: Path) -> None:
    path = broken(tmp_path, "area_units: {pesisir: kec_pesisir}", "area_units: {pesisir: kec_pesisr}")
    message = problem(path)
    line = line_of(path, "kec_pesisr")
    assert f"{path}:{line}: categories.sampah.area_units.pesisir: 'kec_pesisr' is not a unit" in message
    assert "use one of" in message and "kec_pesisir" in message


def test_area_units_naming_an_unknown_area(tmp_path: Path) -> None:
    path = broken(tmp_path, "area_units: {pesisir: kec_pesisir}", "area_units: {pesisr: kec_pesisir}")
    message = problem(path)
    assert f"{path}:{line_of(path, 'pesisr:')}: categories.sampah.area_units.pesisr" in message
    assert "'pesisr' is not an area" in message


def test_area_units_in_the_second_category_is_located_there(tmp_path: Path) -> None:
    text = sample_config_path().read_text(encoding="utf-8")
    path = tmp_path / "city.yaml"
    # ketertiban's area_units is the second occurrence: its line, not sampah's
    first = text.index("area_units: {pesisir: kec_pesisir}")
    second = text.index("area_units: {pesisir: kec_pesisir}", first + 1)
    path.write_text(text[:second] + "area_units: {pesisir: satpol}" + text[second + 34 :], encoding="utf-8")
    message = problem(path)
    assert f"{path}:{line_of(path, 'satpol}')}: categories.ketertiban.area_units.pesisir" in message
    assert "categories.sampah" not in message


def test_unit_fallback_naming_an_unknown_unit(tmp_path: Path) -> None:
    path = broken(tmp_path, "fallback: dlh", "fallback: dhl")
    message = problem(path)
    assert (
        f"{path}:{line_of(path, 'fallback: dhl')}: units.kec_pesisir.fallback: 'dhl' is not a unit" in message
    )
    assert "use one of" in message and "dlh" in message


@pytest.mark.parametrize("fraction", ["1.2", "0", "1", "-0.5"])
def test_a_reminder_fraction_must_lie_between_0_and_1(tmp_path: Path, fraction: str) -> None:
    path = broken(tmp_path, "reminders: [0.5, 0.9]", f"reminders: [0.5, {fraction}]")
    message = problem(path)
    assert f"{path}:{line_of(path, 'reminders:')}: sla_alerts.reminders: reminder" in message
    assert "between 0 and 1" in message


def test_an_escalation_to_an_unknown_audience(tmp_path: Path) -> None:
    path = broken(tmp_path, "{after: 0.5, to: admins}", "{after: 0.5, to: kepala}")
    message = problem(path)
    assert f"{path}:{line_of(path, 'to: kepala')}: sla_alerts.escalations.1.to" in message
    assert "'supervisors' or 'admins'" in message


def test_working_hours_that_end_before_they_start(tmp_path: Path) -> None:
    path = broken(tmp_path, 'mon: "07:30-16:00"', 'mon: "16:00-07:30"')
    message = problem(path)
    assert f"{path}:{line_of(path, '16:00-07:30')}: working_time.hours.mon" in message
    assert "must end after it starts" in message


def test_working_hours_past_midnight_or_malformed(tmp_path: Path) -> None:
    path = broken(tmp_path, 'tue: "07:30-16:00"', 'tue: "07:30-25:00"')
    message = problem(path)
    assert f"{path}:{line_of(path, '07:30-25:00')}: working_time.hours.tue" in message
    assert 'is not a time range like "07:30-16:00"' in message
    path = broken(tmp_path, 'wed: "07:30-16:00"', 'wed: "pagi"')
    assert f"{path}:{line_of(path, 'pagi')}: working_time.hours.wed" in problem(path)


def test_overlapping_working_hours(tmp_path: Path) -> None:
    path = broken(tmp_path, 'thu: "07:30-16:00"', 'thu: "07:30-12:00,11:00-16:00"')
    message = problem(path)
    assert f"{path}:{line_of(path, '11:00-16:00')}: working_time.hours.thu" in message
    assert "overlap" in message


def test_an_unknown_weekday(tmp_path: Path) -> None:
    path = broken(tmp_path, 'fri: "07:30-16:30"', 'jum: "07:30-16:30"')
    message = problem(path)
    assert f"{path}:{line_of(path, 'jum:')}: working_time.hours" in message


@pytest.mark.parametrize("time", ["25:00", "7:00", "07:60"])
def test_the_digest_time_must_be_a_clock_time(tmp_path: Path, time: str) -> None:
    path = broken(tmp_path, 'time: "07:00"', f'time: "{time}"')
    line = line_of(path, f'time: "{time}"')
    assert f"{path}:{line}: digest.time" in problem(path)


def test_duplicates_settings(tmp_path: Path) -> None:
    path = broken(tmp_path, "within: 14d", "within: 2 minggu")
    message = problem(path)
    assert f"{path}:{line_of(path, 'within:')}: duplicates.within" in message
    assert "30s, 15m, 4h or 2d" in message
    path = broken(tmp_path, "priority_at: 3", "priority_at: 1")
    assert f"{path}:{line_of(path, 'priority_at:')}: duplicates.priority_at" in problem(path)
    path = broken(tmp_path, "radius_m: 150", "radius_m: 0")
    assert f"{path}:{line_of(path, 'radius_m:')}: duplicates.radius_m" in problem(path)


def test_officers_settings(tmp_path: Path) -> None:
    path = broken(tmp_path, "invite_valid: 7d", "invite_valid: seminggu")
    message = problem(path)
    assert f"{path}:{line_of(path, 'invite_valid:')}: officers.invite_valid" in message
    assert "30s, 15m, 4h or 2d" in message
    path = broken(tmp_path, "sign_with_name: false", "sign_with_nama: false")
    message = problem(path)
    assert f"{path}:{line_of(path, 'sign_with_nama')}: officers.sign_with_nama" in message
    assert "check the spelling" in message


def test_several_mistakes_are_reported_together(tmp_path: Path) -> None:
    text = sample_config_path().read_text(encoding="utf-8")
    text = text.replace("fallback: dlh", "fallback: dhl").replace(
        "area_units: {pesisir: kec_pesisir}", "area_units: {pesisr: kec_pesisir}", 1
    )
    path = tmp_path / "city.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_city_config(path)
    wheres = [p.where for p in error.value.problems]
    assert "units.kec_pesisir.fallback" in wheres
    assert "categories.sampah.area_units.pesisr" in wheres
    assert all(p.line is not None for p in error.value.problems)


@pytest.mark.parametrize("key", ["fixed", "comment", "stop"])
def test_a_survey_question_may_not_take_a_key_the_survey_uses(tmp_path: Path, key: str) -> None:
    path = broken(tmp_path, "{key: hasil, skm: U5}", f"{{key: {key}, skm: U5}}")
    message = problem(path)
    assert f"{path}:{line_of(path, '  questions:')}: surveys.questions" in message
    assert f"{key!r} is asked anyway" in message


def test_a_survey_question_without_wording_is_located(tmp_path: Path) -> None:
    from locales import load_catalogues

    path = broken(tmp_path, "{key: hasil, skm: U5}", "{key: kebersihan, skm: U9}")
    with pytest.raises(ConfigError) as error:
        load_city_config(path, load_catalogues())
    assert "question 'kebersihan' needs a text: {id: ..., en: ...}" in str(error.value)
    worded = broken(
        tmp_path, "{key: hasil, skm: U5}", '{key: kebersihan, skm: U9, text: {id: "Bersih?", en: "Clean?"}}'
    )
    assert load_city_config(worded, load_catalogues()).surveys.rated[1] == "kebersihan"


def test_the_survey_must_remind_before_it_gives_up(tmp_path: Path) -> None:
    path = broken(tmp_path, "close_after: 3d", "close_after: 1d")
    assert "close_after must be longer than remind_after" in problem(path)


def test_a_whatsapp_template_for_an_unknown_kind_of_notice_is_located(tmp_path: Path) -> None:
    path = broken(tmp_path, "    broadcast:          #", "    pengumuman:         #")
    message = problem(path)
    assert f"{path}:{line_of(path, '  templates:')}: whatsapp.templates" in message
    assert "'pengumuman' is not a kind of notice; use one of: ticket_update" in message


def test_a_whatsapp_template_parameter_the_notice_does_not_have(tmp_path: Path) -> None:
    path = broken(tmp_path, "parameters: [reference, unit]\n", "parameters: [reference, text]\n")
    message = problem(path)
    assert "survey: parameter 'text' is not known; a survey template may use reference, unit" in message


@pytest.mark.parametrize("window", ["25h", "0h", "sehari"])
def test_the_whatsapp_window_is_at_most_meta_s_24_hours(tmp_path: Path, window: str) -> None:
    path = broken(tmp_path, "  window: 24h", f"  window: {window}")
    message = problem(path)
    assert f"{path}:{line_of(path, '  window:')}: whatsapp.window" in message


def test_a_whatsapp_template_name_as_meta_allows_it(tmp_path: Path) -> None:
    path = broken(tmp_path, "name: civicbot_survey", "name: Civicbot Survey")
    assert "whatsapp.templates.survey.name" in problem(path)
