"""The console channel through the stdin and stdout of the real `civicbot` process.

Each step types one line and waits for the bot's answer on stdout (no sleeps); buttons are pressed
by the number the console printed next to them, as a person at the terminal would.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import NoReturn

import pytest

STEP_TIMEOUT = 15.0  # seconds for one answer of the bot
START_TIMEOUT = 30.0  # the first output also waits for the imports and the migrations
REFERENCE = re.compile(r"ADU-\d{4}-[0-9A-HJKMNP-TV-Z]{4}")
BUTTON = re.compile(r"^\s*\[(\d+)\] (.*)$", re.MULTILINE)


class Output:
    """Everything a pipe has printed, read in the background; waits until a pattern appears."""

    def __init__(self, stream: asyncio.StreamReader, name: str) -> None:
        self.name = name
        self.text = ""
        self.closed = False
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._pump(stream), name=f"read-{name}")

    async def _pump(self, stream: asyncio.StreamReader) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while chunk := await stream.read(4096):
            self.text += decoder.decode(chunk)
            self._changed.set()
        self.text += decoder.decode(b"", final=True)
        self.closed = True
        self._changed.set()

    @property
    def lines_end(self) -> int:
        """Where the complete lines printed so far end."""
        return self.text.rfind("\n") + 1

    async def wait_for(
        self, pattern: str | re.Pattern[str], *, start: int = 0, within: float
    ) -> re.Match[str]:
        """The first match of pattern in the complete lines printed from start on."""
        regex = re.compile(pattern, re.MULTILINE) if isinstance(pattern, str) else pattern
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            self._changed.clear()
            match = regex.search(self.text[: self.lines_end], start)
            if match:
                return match
            if self.closed:
                raise Missing(f"{self.name} closed before {regex.pattern!r} appeared")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise Missing(f"{regex.pattern!r} did not appear on {self.name} within {within:.0f} s")
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass

    async def close(self) -> None:
        if not self._task.done():
            self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


class Missing(Exception):
    """Expected output did not come."""


class Console:
    """A `civicbot` process to type at: each line is answered before the next is typed."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdin and process.stdout and process.stderr
        self.process = process
        self.stdin = process.stdin
        self.out = Output(process.stdout, "stdout")
        self.err = Output(process.stderr, "stderr")
        self.typed: list[str] = []
        self.step_start = 0  # where the answer to the last typed line begins on stdout

    def fail(self, why: str) -> NoReturn:
        pytest.fail(
            f"{why}\n--- typed ---\n"
            + "\n".join(self.typed)
            + f"\n--- stdout ---\n{self.out.text}\n--- stderr ---\n{self.err.text}",
            pytrace=False,
        )

    async def expect(
        self, pattern: str | re.Pattern[str], *, stream: str = "out", within: float = STEP_TIMEOUT
    ) -> re.Match[str]:
        """Wait for pattern in the answer to the last typed line (or anywhere on stderr)."""
        output = self.out if stream == "out" else self.err
        start = self.step_start if stream == "out" else 0
        try:
            return await output.wait_for(pattern, start=start, within=within)
        except Missing as missing:
            self.fail(str(missing))

    async def type(self, line: str, expect: str | re.Pattern[str]) -> re.Match[str]:
        """Type a line and wait for the bot's answer to contain expect."""
        self.step_start = self.out.lines_end
        self.typed.append(line)
        self.stdin.write(line.encode() + b"\n")
        await self.stdin.drain()
        return await self.expect(expect)

    def button(self, label: str) -> str:
        """The number printed next to the newest button whose label contains label."""
        numbers = [m.group(1) for m in BUTTON.finditer(self.out.text, self.step_start) if label in m.group(2)]
        if not numbers:
            self.fail(f"no button {label!r} in the last answer")
        return numbers[-1]

    async def press(self, label: str, expect: str | re.Pattern[str]) -> re.Match[str]:
        return await self.type(self.button(label), expect)

    async def quit(self, within: float = STEP_TIMEOUT) -> int:
        """End of input (Ctrl-D): the process sends what is due and exits."""
        self.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), within)
            await asyncio.wait_for(asyncio.gather(self.out._task, self.err._task), within)
        except TimeoutError:
            self.fail(f"the process did not exit within {within:.0f} s of the end of input")
        assert self.process.returncode is not None
        return self.process.returncode


def console_env(db_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env["CIVICBOT_DATABASE_URL"] = f"sqlite:///{db_path}"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


@asynccontextmanager
async def civicbot(tmp_path: Path, command: str = "chat") -> AsyncIterator[Console]:
    """`civicbot COMMAND` on the SQLite file tmp_path/c.db, killed at the end if still running."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=console_env(tmp_path / "c.db"),
        cwd=tmp_path,  # no stray .env of the checkout
    )
    console = Console(process)
    try:
        await console.expect("console mode", within=START_TIMEOUT)  # the banner: imported and migrated
        yield console
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await console.out.close()
        await console.err.close()


async def test_a_whole_complaint_in_the_console(tmp_path: Path) -> None:
    async with civicbot(tmp_path) as bot:
        banner = bot.out.text
        assert banner.index("mode konsol") < banner.index("console mode")  # Indonesian first
        await bot.type("/start", r"^\s*\[\d+\] .*Buat pengaduan")
        await bot.expect("Selamat datang")
        await bot.press("Buat pengaduan", r"^\s*\[\d+\] .*Sampah")
        await bot.press("Sampah", "Ceritakan masalahnya")
        await bot.type("Sampah di TPS Jl. Melati sudah 3 hari tidak diangkut, baunya menyengat", "lokasi")
        await bot.type("/lokasi -6.2 106.8", "Kirim foto")
        await bot.type("/foto", r"^\s*\[\d+\] .*Selesai")
        await bot.press("Selesai", r"^\s*\[\d+\] .*Publik")
        await bot.press("Publik", r"^\s*\[\d+\] .*Kirim pengaduan")
        await bot.expect("Periksa pengaduan")
        await bot.press("Kirim pengaduan", REFERENCE)
        assert await bot.quit() == 0, bot.err.text


async def test_a_restart_resumes_the_complaint_where_it_was(tmp_path: Path) -> None:
    async with civicbot(tmp_path) as bot:
        await bot.type("/start", r"^\s*\[\d+\] .*Buat pengaduan")
        await bot.press("Buat pengaduan", r"^\s*\[\d+\] .*Sampah")
        await bot.press("Sampah", "Ceritakan masalahnya")
        await bot.type("Sampah menumpuk di depan gang Kenari, sudah seminggu tidak diangkut", "lokasi")
        assert await bot.quit() == 0, bot.err.text
    async with civicbot(tmp_path) as restarted:
        # the complaint goes on: the address is taken, and since sampah is handled per area
        # (config: area_units) the bot asks which kecamatan
        await restarted.type("Jl. Kenari 7, depan warung", "kecamatan mana")
        await restarted.expect("Alamat dicatat")
        assert await restarted.quit() == 0, restarted.err.text


async def test_run_without_a_token_explains_botfather_and_serves_the_console(tmp_path: Path) -> None:
    async with civicbot(tmp_path, "run") as bot:
        await bot.expect("@BotFather", stream="err")
        await bot.type("/start", "Selamat datang")
        assert await bot.quit() == 0, bot.err.text
