"""The city configuration: units, categories, areas, SLA policies, limits and text overrides.

Loaded from one YAML file and validated at start. A mistake is reported with the file, the
line and what to do about it, so a city's IT team can fix it without reading code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from workflows.calendar import WorkingTime

LANGUAGES: tuple[str, ...] = ("id", "en")
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
WORKING_DAY = timedelta(hours=8)  # "1d" of a working-time SLA: one working day


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalText(_Strict):
    """A text in every served language."""

    id: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, language: str) -> str:
        return self.en if language == "en" else self.id


class CityInfo(_Strict):
    name: LocalText
    timezone: str = "Asia/Jakarta"
    reference_prefix: str = Field(default="ADU", pattern=r"^[A-Z]{2,5}$")
    emergency_number: str = "112"


class Limits(_Strict):
    tickets_per_day: int = Field(default=5, ge=1)
    messages_per_minute: int = Field(default=30, ge=1)
    description_min_chars: int = Field(default=10, ge=1)
    description_max_chars: int = Field(default=2000, ge=50, le=3500)
    address_max_chars: int = Field(default=300, ge=20)
    photos_max: int = Field(default=3, ge=0, le=10)


class SlaTargets(_Strict):
    response: str
    resolution: str

    @field_validator("response", "resolution")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class SlaPolicy(_Strict):
    """Response and resolution targets; `working` counts working time, `continuous` clock time.

    `high` (optional): tighter targets for tickets of raised priority (many citizens reported it).
    """

    response: str
    resolution: str
    calendar: Literal["working", "continuous"] = "working"
    high: SlaTargets | None = None

    @field_validator("response", "resolution")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def day(self) -> timedelta:
        """What "1d" means here: a working day of 8 working hours, or 24 hours of clock time."""
        return WORKING_DAY if self.calendar == "working" else timedelta(days=1)

    @property
    def response_delta(self) -> timedelta:
        return parse_duration(self.response, day=self.day)

    @property
    def resolution_delta(self) -> timedelta:
        return parse_duration(self.resolution, day=self.day)

    def target(self, clock: str, priority: int = 0) -> timedelta:
        """The target of the response or resolution clock for a ticket of this priority."""
        targets: SlaTargets | SlaPolicy = self.high if priority > 0 and self.high else self
        return parse_duration(targets.response if clock == "response" else targets.resolution, day=self.day)


class Escalation(_Strict):
    """`after`: how far past the deadline, as a fraction of the target (0 = at the deadline)."""

    after: float = Field(ge=0, le=10)
    to: Literal["supervisors", "admins"]


class SlaAlerts(_Strict):
    """Reminders to the holding group before a deadline, escalations after it."""

    reminders: list[float] = Field(default_factory=lambda: [0.5, 0.9])
    escalations: list[Escalation] = Field(
        default_factory=lambda: [Escalation(after=0, to="supervisors"), Escalation(after=0.5, to="admins")]
    )

    @field_validator("reminders")
    @classmethod
    def _fractions(cls, value: list[float]) -> list[float]:
        for fraction in value:
            if not 0 < fraction < 1:
                raise ValueError(f"reminder {fraction} must be a fraction of the target between 0 and 1")
        return sorted(set(value))


class Digest(_Strict):
    """The daily digest to each supervisor: overdue and at-risk tickets."""

    time: str = "07:00"
    enabled: bool = True

    @field_validator("time")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError(f'{value!r} is not a time of day like "07:00" (24-hour clock)')
        return value


class Duplicates(_Strict):
    """When a new complaint is offered "me too" on an open one, and when priority rises."""

    radius_m: float = Field(default=150, gt=0, le=5000)
    within: str = "14d"
    priority_at: int = Field(default=3, ge=2)  # reporters from which the ticket is high priority

    @field_validator("within")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class Officers(_Strict):
    sign_with_name: bool = False  # relayed replies signed "Name, Unit" instead of the unit only
    invite_valid: str = "7d"

    @field_validator("invite_valid")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class Transparency(_Strict):
    """The public transparency page (/transparansi): aggregated figures per unit, no personal data."""

    enabled: bool = False
    period: int = Field(default=12, ge=1, le=36)  # months shown: the last full one back to this many
    min_tickets: int = Field(default=5, ge=1, le=100)  # fewer complaints in a period: "fewer than N"


class SurveyQuestion(_Strict):
    """One rated element, 1–4 as in the national SKM survey; `skm` names the element (U1–U9)."""

    key: str = Field(pattern=KEY_PATTERN.pattern)
    skm: str | None = Field(default=None, pattern=r"^U[1-9]$")
    text: LocalText | None = None  # the question; the catalogue's survey.q.<key> when not given


def _skm_default() -> list[SurveyQuestion]:
    # the SKM elements a complaint's handling speaks to: time, result, conduct, complaint handling
    return [
        SurveyQuestion(key="waktu", skm="U3"),
        SurveyQuestion(key="hasil", skm="U5"),
        SurveyQuestion(key="perilaku", skm="U7"),
        SurveyQuestion(key="pengaduan", skm="U8"),
    ]


class Surveys(_Strict):
    """The follow-up survey after a resolution: when it is sent, reminded, given up; what it asks."""

    enabled: bool = True
    delay: str = "1d"  # after the resolution
    calendar: Literal["working", "continuous"] = "working"
    remind_after: str = "1d"  # after it was sent, once, while "fixed?" is unanswered
    close_after: str = "3d"  # after it was sent: the ticket closes without feedback
    escalate_after_reopens: int = Field(default=2, ge=1)  # reopened this often: supervisors are told
    questions: list[SurveyQuestion] = Field(default_factory=_skm_default, min_length=1, max_length=9)

    @field_validator("delay", "remind_after", "close_after")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("questions")
    @classmethod
    def _unique(cls, value: list[SurveyQuestion]) -> list[SurveyQuestion]:
        keys = [q.key for q in value]
        for key in keys:
            if keys.count(key) > 1:
                raise ValueError(f"question {key!r} is listed twice")
            if key in RESERVED_QUESTIONS:
                raise ValueError(f"{key!r} is asked anyway; give the rated question another key")
        return value

    @model_validator(mode="after")
    def _order(self) -> Surveys:
        if self.delta("close_after") <= self.delta("remind_after"):
            raise ValueError("close_after must be longer than remind_after (the reminder comes first)")
        return self

    def delta(self, name: Literal["delay", "remind_after", "close_after"]) -> timedelta:
        """A duration of this section; a day is a working day on the working calendar."""
        day = WORKING_DAY if self.calendar == "working" else timedelta(days=1)
        return parse_duration(getattr(self, name), day=day)

    @property
    def rated(self) -> list[str]:
        return [q.key for q in self.questions]


# WhatsApp templates: what each kind of notice may fill its approved template's {{1}}, {{2}}, ... with
TEMPLATE_PARAMETERS: dict[str, tuple[str, ...]] = {
    "ticket_update": ("reference", "unit", "status", "text"),  # status changes of a ticket
    "officer_message": ("reference", "unit", "text"),  # a unit's question or message to the citizen
    "survey": ("reference", "unit"),  # the follow-up survey and its reminder
    "broadcast": ("text",),  # an announcement
}


class WhatsAppTemplate(_Strict):
    """An approved template message (WhatsApp Manager), used outside the 24-hour window."""

    name: str = Field(pattern=r"^[a-z0-9_]{1,512}$")
    # our language → the code of the approved translation; the same code when not listed
    languages: dict[str, str] = Field(default_factory=lambda: {"id": "id", "en": "en"})
    parameters: list[str] = Field(default_factory=list, max_length=10)  # {{1}}, {{2}}, ... in order
    quick_replies: int = Field(default=0, ge=0, le=10)  # quick-reply buttons the template has

    @field_validator("languages")
    @classmethod
    def _served(cls, value: dict[str, str]) -> dict[str, str]:
        for language in value:
            if language not in LANGUAGES:
                raise ValueError(f"language {language!r} is not served; use one of {LANGUAGES}")
        return value


class WhatsApp(_Strict):
    """WhatsApp's 24-hour customer service window and the templates that stand in outside it."""

    window: str = "24h"  # set by Meta; shorter only to leave a margin
    templates: dict[str, WhatsAppTemplate] = Field(default_factory=dict)

    @field_validator("window")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not timedelta(0) < parse_duration(value) <= timedelta(hours=24):
            raise ValueError("window must be longer than 0 and at most 24h (Meta's limit)")
        return value

    @field_validator("templates")
    @classmethod
    def _kinds(cls, value: dict[str, WhatsAppTemplate]) -> dict[str, WhatsAppTemplate]:
        for kind, template in value.items():
            allowed = TEMPLATE_PARAMETERS.get(kind)
            if allowed is None:
                raise ValueError(
                    f"{kind!r} is not a kind of notice; use one of: {', '.join(TEMPLATE_PARAMETERS)}"
                )
            for name in template.parameters:
                if name not in allowed:
                    known = ", ".join(allowed)
                    raise ValueError(
                        f"{kind}: parameter {name!r} is not known; a {kind} template may use {known}"
                    )
        return value

    @property
    def window_length(self) -> timedelta:
        return parse_duration(self.window)


RESERVED_QUESTIONS = ("fixed", "comment", "stop")  # asked anyway, or the opt-out button (handlers/survey.py)


class Unit(_Strict):
    name: LocalText
    short: str = Field(min_length=1, max_length=24)
    fallback: str | None = None  # where its tickets go while it is paused; the triage unit if unset


class Keywords(_Strict):
    id: list[str] = Field(default_factory=list)
    en: list[str] = Field(default_factory=list)


class Category(_Strict):
    name: LocalText
    unit: str
    location: Literal["required", "optional"] = "optional"
    sla: str
    sensitive: bool = False
    emoji: str = ""
    keywords: Keywords = Field(default_factory=Keywords)
    area_units: dict[str, str] = Field(default_factory=dict)  # area → unit, overriding `unit` there
    proof_photo: bool = False  # resolving needs a photo of the result


class Area(_Strict):
    name: str
    kind: Literal["kecamatan", "kelurahan", "desa"] = "kecamatan"
    parent: str | None = None


class CityConfig(_Strict):
    city: CityInfo
    limits: Limits = Field(default_factory=Limits)
    sla_policies: dict[str, SlaPolicy]
    units: dict[str, Unit]
    triage_unit: str
    categories: dict[str, Category]
    fallback_category: str = "lainnya"
    areas: dict[str, Area] = Field(default_factory=dict)
    areas_geojson: str | None = None  # polygons of the areas, relative to this file
    working_time: WorkingTime = Field(default_factory=WorkingTime)
    sla_alerts: SlaAlerts = Field(default_factory=SlaAlerts)
    digest: Digest = Field(default_factory=Digest)
    duplicates: Duplicates = Field(default_factory=Duplicates)
    officers: Officers = Field(default_factory=Officers)
    surveys: Surveys = Field(default_factory=Surveys)
    whatsapp: WhatsApp = Field(default_factory=WhatsApp)
    transparency: Transparency = Field(default_factory=Transparency)
    texts: dict[str, dict[str, str]] = Field(default_factory=dict)

    @field_validator("units", "categories", "sla_policies", "areas")
    @classmethod
    def _keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if not KEY_PATTERN.match(key):
                raise ValueError(
                    f"key {key!r} must be lower-case letters, digits or '_' (max 32), starting with a letter"
                )
        return value

    @field_validator("texts")
    @classmethod
    def _texts_languages(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for language in value:
            if language not in LANGUAGES:
                raise ValueError(f"language {language!r} is not served; use one of {LANGUAGES}")
        return value

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> CityConfig:
        if info.context and info.context.get("skip_references"):
            return self  # the file loader reports these itself, with line numbers
        problems = reference_problems(self)
        if problems:
            raise ValueError("; ".join(f"{'.'.join(loc)}: {msg}" for loc, msg in problems))
        return self

    def category(self, key: str) -> Category:
        return self.categories.get(key) or self.categories[self.fallback_category]

    def sla_for(self, category_key: str) -> SlaPolicy:
        return self.sla_policies[self.category(category_key).sla]


def reference_problems(config: CityConfig) -> list[tuple[tuple[str, ...], str]]:
    """Keys that name something not defined elsewhere in the file."""
    problems: list[tuple[tuple[str, ...], str]] = []
    units = ", ".join(config.units)
    if config.triage_unit not in config.units:
        problems.append((("triage_unit",), f"{config.triage_unit!r} is not a unit; use one of: {units}"))
    if config.fallback_category not in config.categories:
        problems.append((("fallback_category",), f"{config.fallback_category!r} is not a category"))
    for key, category in config.categories.items():
        if category.unit not in config.units:
            problems.append(
                (("categories", key, "unit"), f"{category.unit!r} is not a unit; use one of: {units}")
            )
        for area_key, unit_key in category.area_units.items():
            where = ("categories", key, "area_units", area_key)
            if area_key not in config.areas:
                problems.append((where, f"{area_key!r} is not an area"))
            if unit_key not in config.units:
                problems.append((where, f"{unit_key!r} is not a unit; use one of: {units}"))
        if category.sla not in config.sla_policies:
            policies = ", ".join(config.sla_policies)
            problems.append(
                (("categories", key, "sla"), f"{category.sla!r} is not an SLA policy; use one of: {policies}")
            )
    for key, defined in config.units.items():
        if defined.fallback is not None and defined.fallback not in config.units:
            problems.append(
                (("units", key, "fallback"), f"{defined.fallback!r} is not a unit; use one of: {units}")
            )
    for key, area in config.areas.items():
        if area.parent is not None and area.parent not in config.areas:
            problems.append((("areas", key, "parent"), f"{area.parent!r} is not an area"))
    return problems


_MARKUP = re.compile(r"</?(?:b|i|u|s|code|pre)>|&(?:lt|gt|amp|quot|#\d+);")
_TAG = re.compile(r"<(/?)(b|i|u|s|code|pre)>")


def text_problems(
    config: CityConfig, catalogues: Mapping[str, Mapping[str, str]]
) -> list[tuple[tuple[str, ...], str]]:
    """Overrides of catalogue texts that would fail at run time: unknown keys, fields, markup;
    survey questions with neither a text nor one in the catalogue."""
    problems: list[tuple[tuple[str, ...], str]] = []
    for index, question in enumerate(config.surveys.questions):
        missing = [lang for lang in LANGUAGES if f"survey.q.{question.key}" not in catalogues.get(lang, {})]
        if question.text is None and catalogues and missing:
            problems.append(
                (
                    ("surveys", "questions", str(index)),
                    f"question {question.key!r} needs a text: {{id: ..., en: ...}} (the catalogue has none)",
                )
            )
    for language, texts in config.texts.items() if catalogues else ():
        catalogue = catalogues.get(language, {})
        for key, text in texts.items():
            loc = ("texts", language, key)
            if key not in catalogue:
                problems.append((loc, "is not a catalogue text; see locales/id.yaml for the keys"))
                continue
            allowed = set(re.findall(r"{(\w+)}", catalogue[key]))
            unknown = sorted(set(re.findall(r"{(\w*)}", text)) - allowed)
            if unknown:
                fields = ", ".join(f"{{{name}}}" for name in sorted(allowed)) or "none"
                problems.append((loc, f"uses {unknown} which this text does not have; fields: {fields}"))
            markup = _markup_problem(text)
            if markup:
                problems.append((loc, markup))
    return problems


def _markup_problem(text: str) -> str | None:
    rest = _MARKUP.sub("", text)
    if "<" in rest or "&" in rest or ">" in rest:
        return "has markup other than <b>, <i>, <u>, <s>, <code>, <pre>; write &lt; &gt; &amp; for < > &"
    open_tags: list[str] = []
    for closing, tag in _TAG.findall(text):
        if not closing:
            open_tags.append(tag)
        elif not open_tags or open_tags.pop() != tag:
            return f"closes <{tag}> that is not open"
    return f"leaves <{open_tags[-1]}> open" if open_tags else None


def parse_duration(text: str, *, day: timedelta = timedelta(days=1)) -> timedelta:
    """'30s', '4h', '1.5d' → timedelta; a 'd' is `day` long (a working day for working-time SLAs)."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"duration {text!r} must look like 30s, 15m, 4h or 2d")
    unit = match.group(2)
    size = day.total_seconds() if unit == "d" else _UNIT_SECONDS[unit]
    return timedelta(seconds=float(match.group(1)) * size)


@dataclass(frozen=True)
class ConfigProblem:
    """One mistake in the configuration file, located."""

    file: str
    line: int | None
    where: str
    message: str

    def __str__(self) -> str:
        at = f"{self.file}:{self.line}" if self.line else self.file
        return f"{at}: {self.where}: {self.message}"


class ConfigError(Exception):
    """The city configuration cannot be used; `problems` says where and why."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping key and value."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    lines: dict[str, int] = {}
    for key_node, _value_node in node.value:
        lines[str(loader.construct_object(key_node))] = key_node.start_mark.line + 1
    mapping["__lines__"] = lines
    return mapping


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,  # type: ignore[arg-type]
)


def _strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k != "__lines__"}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def _line_of(tree: Any, loc: tuple[int | str, ...]) -> int | None:
    line: int | None = None
    node = tree
    for part in loc:
        if isinstance(node, dict):
            line = node.get("__lines__", {}).get(str(part), line)
            node = node.get(str(part)) if str(part) in node else None
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            break
    return line


_HINTS = {
    "missing": "add this setting",
    "extra_forbidden": "remove it or check the spelling",
    "literal_error": "use one of the values named",
    "string_pattern_mismatch": "change it to match the pattern",
}


def load_city_config(
    path: str | Path, catalogues: Mapping[str, Mapping[str, str]] | None = None
) -> CityConfig:
    """Read and validate the city configuration, raising ConfigError with located problems.

    With the catalogues, the `texts` overrides are checked against them as well.
    """
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([ConfigProblem(file, None, "file", f"cannot be read: {error}")]) from error
    try:
        tree = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else None
        message = f"is not valid YAML ({getattr(error, 'problem', error)}); check indentation"
        raise ConfigError([ConfigProblem(file, line, "syntax", message)]) from error
    if not isinstance(tree, dict):
        raise ConfigError([ConfigProblem(file, 1, "file", "must be a mapping of settings")])
    try:
        config = CityConfig.model_validate(_strip_lines(tree), context={"skip_references": True})
    except ValidationError as error:
        raise ConfigError([_problem(file, tree, e) for e in error.errors()]) from error
    problems = [
        ConfigProblem(file, _line_of(tree, loc), ".".join(loc), msg)
        for loc, msg in [*reference_problems(config), *text_problems(config, catalogues or {})]
    ]
    if problems:
        raise ConfigError(problems)
    return config


def _problem(file: str, tree: Any, error: Any) -> ConfigProblem:
    loc = tuple(error["loc"])
    where = ".".join(str(p) for p in loc) or "(top level)"
    message = str(error["msg"]).removeprefix("Value error, ")
    hint = _HINTS.get(error["type"])
    if hint:
        message = f"{message} — {hint}"
    return ConfigProblem(file, _line_of(tree, loc), where, message)


def sample_config_path() -> Path:
    """The sample city shipped with civicbot."""
    import config as sample_package  # the `config` package ships the sample city

    return Path(sample_package.__file__).resolve().parent / "sample_city.yaml"
