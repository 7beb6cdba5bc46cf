"""`civicbot staff` and `civicbot units`: what a city's IT team does from a terminal."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import cli

Invoke = Callable[..., tuple[int, str]]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.setenv("CIVICBOT_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.delenv("CIVICBOT_CONFIG", raising=False)
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli, list(args))
        return result.exit_code, result.output

    return invoke


def test_staff_are_added_listed_and_removed(run: Invoke) -> None:
    assert run("staff", "add", "111", "--unit", "dlh", "--name", "Pak Budi") == (
        0,
        "111 is now officer of dlh\n",
    )
    assert run("staff", "add", "999", "--role", "admin")[0] == 0
    code, listing = run("staff", "list")
    assert (
        code == 0
        and re.search(r"dlh\s+officer\s+111\s+Pak Budi", listing)
        and re.search(r"admin\s+999", listing)
    )
    assert run("staff", "remove", "111") == (0, "111 is no longer staff\n")
    assert "111" not in run("staff", "list")[1]
    assert run("staff", "remove", "111")[0] == 1  # told it is not staff


def test_mistakes_are_refused_with_the_choices(run: Invoke) -> None:
    code, output = run("staff", "add", "111", "--unit", "dinas_x")
    assert code == 2 and "use one of" in output and "dlh" in output
    code, output = run("staff", "add", "111")
    assert code == 2 and "--unit is needed" in output
    code, output = run("staff", "add", "111", "--role", "boss", "--unit", "dlh")
    assert code == 2 and "officer, supervisor or admin" in output


def test_an_invite_code_is_printed_once_and_units_can_be_paused(run: Invoke) -> None:
    code, output = run("staff", "invite", "dlh", "--supervisor")
    assert code == 0 and re.match(r"[0-9A-Z]{4}-[0-9A-Z]{4} ", output) and "/join" in output
    assert run("units", "pause", "dlh", "--reason", "libur")[1] == "dlh paused; new tickets go to triase\n"
    code, listing = run("units", "list")
    assert re.search(r"^dlh\s+PAUSED\s+0\s+\(no group\)", listing, re.MULTILINE)
    assert run("units", "resume", "dlh")[1] == "dlh active again\n"
    assert re.search(r"^dlh\s+active", run("units", "list")[1], re.MULTILINE)
