"""`civicbot staff` and `civicbot units`: what a city's IT team does from a terminal."""

from __future__ import annotations

import re

from tests.conftest import Invoke


def test_staff_are_added_listed_and_removed(cli_run: Invoke) -> None:
    assert cli_run("staff", "add", "111", "--unit", "dlh", "--name", "Pak Budi") == (
        0,
        "111 is now officer of dlh\n",
    )
    assert cli_run("staff", "add", "999", "--role", "admin")[0] == 0
    code, listing = cli_run("staff", "list")
    assert (
        code == 0
        and re.search(r"dlh\s+officer\s+111\s+Pak Budi", listing)
        and re.search(r"admin\s+999", listing)
    )
    assert cli_run("staff", "remove", "111") == (0, "111 is no longer staff\n")
    assert "111" not in cli_run("staff", "list")[1]
    assert cli_run("staff", "remove", "111")[0] == 1  # told it is not staff


def test_mistakes_are_refused_with_the_choices(cli_run: Invoke) -> None:
    code, output = cli_run("staff", "add", "111", "--unit", "dinas_x")
    assert code == 2 and "use one of" in output and "dlh" in output
    code, output = cli_run("staff", "add", "111")
    assert code == 2 and "--unit is needed" in output
    code, output = cli_run("staff", "add", "111", "--role", "boss", "--unit", "dlh")
    assert code == 2 and "officer, supervisor or admin" in output


def test_an_invite_code_is_printed_once_and_units_can_be_paused(cli_run: Invoke) -> None:
    code, output = cli_run("staff", "invite", "dlh", "--supervisor")
    assert code == 0 and re.match(r"[0-9A-Z]{4}-[0-9A-Z]{4} ", output) and "/join" in output
    assert (
        cli_run("units", "pause", "dlh", "--reason", "libur")[1] == "dlh paused; new tickets go to triase\n"
    )
    code, listing = cli_run("units", "list")
    assert re.search(r"^dlh\s+PAUSED\s+0\s+\(no group\)", listing, re.MULTILINE)
    assert cli_run("units", "resume", "dlh")[1] == "dlh active again\n"
    assert re.search(r"^dlh\s+active", cli_run("units", "list")[1], re.MULTILINE)
