"""Cutting long HTML texts for Telegram: every piece parses, fits, and keeps the formatting it had."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.text_split import split_html, split_text, units

TAGS = ("b", "i", "u", "s", "code", "pre")


class _Styled(HTMLParser):
    """The rendered characters of a piece, each with the tags around it; fails on unbalanced tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.chars: list[tuple[str, tuple[str, ...]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in TAGS, tag
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open}"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.chars.extend((char, tuple(self.open)) for char in data)


def styled(piece: str) -> list[tuple[str, tuple[str, ...]]]:
    parser = _Styled()
    parser.feed(piece)
    parser.close()
    assert parser.open == [], f"left open: {parser.open} in {piece!r}"
    return parser.chars


def rendered(piece: str) -> str:
    return "".join(char for char, _ in styled(piece))


ENTITY = re.compile(r"&(#[0-9]+|#x[0-9a-f]+|[a-z]+);", re.IGNORECASE)


def assert_good_split(text: str, limit: int) -> list[str]:
    """Every piece is balanced, fits, has whole entities; together they are the text, cut at blanks."""
    pieces = split_html(text, limit)
    assert pieces
    for piece in pieces:
        assert units(rendered(piece)) <= limit, piece
        assert "&" not in ENTITY.sub("", piece), f"an entity was cut in {piece!r}"
        assert not re.search(r"<[^>]*$|^[^<]*>", piece), f"a tag was cut in {piece!r}"
    original = styled(text)
    position = 0
    for piece in pieces:
        chars = styled(piece)
        # the piece is the next stretch of the original, same characters with the same formatting,
        # after nothing but whitespace (what a cut drops)
        while original[position : position + len(chars)] != chars:
            assert original[position][0].isspace(), f"{piece!r} is not where the text goes on"
            position += 1
        position += len(chars)
    assert all(char.isspace() for char, _ in original[position:])
    return pieces


def test_short_texts_are_left_alone() -> None:
    text = "<b>Tiket</b> ADU-2611-7KQ4 &lt;diterima&gt;"
    assert split_html(text, 4096) == [text]
    # 2 000 entities are 2 000 characters once rendered, not 8 000
    assert split_html("&lt;" * 2000, 4096) == ["&lt;" * 2000]


def test_an_entity_is_never_cut() -> None:
    text = "x" * 5 + "&lt;" + "y" * 5
    for limit in range(1, 12):
        pieces = assert_good_split(text, limit)
        assert all("&lt" not in piece or "&lt;" in piece for piece in pieces)
    assert split_html(text, 6) == ["xxxxx&lt;", "yyyyy"]


def test_open_tags_are_closed_at_the_cut_and_reopened_after() -> None:
    pieces = assert_good_split("<b>a <i>bb cc dd</i> ee</b>", 6)
    assert pieces == ["<b>a <i>bb</i></b>", "<b><i>cc dd</i></b>", "<b>ee</b>"]


def test_a_tag_with_attributes_is_reopened_as_it_was() -> None:
    text = '<pre><code class="language-text">' + "\n".join(["baris"] * 10) + "</code></pre>"
    pieces = assert_good_split(text, 20)
    assert len(pieces) > 1
    assert all(p.startswith('<pre><code class="language-text">') for p in pieces)
    assert all(p.endswith("</code></pre>") for p in pieces)


def test_cuts_prefer_a_blank_line_then_a_line_then_a_space() -> None:
    words = "kata " * 8  # 40 characters
    text = f"<b>Judul</b>\n{words}\n\nbaris\n{words * 3}"
    assert split_html(text, 70)[0] == f"<b>Judul</b>\n{words.strip()}"  # the blank line at 46 of 70
    # a blank line before half the limit is not worth it: the last newline is
    line = "kata " * 10
    text = f"<b>Judul</b>\n\n{line.strip()}\n{line.strip()} akhir"
    assert split_html(text, 70) == [f"<b>Judul</b>\n\n{line.strip()}", f"{line.strip()} akhir"]
    assert split_html("satu dua tiga empat lima enam", 12) == ["satu dua", "tiga empat", "lima enam"]


def test_a_separator_before_half_the_limit_is_not_worth_it() -> None:
    text = "ab " + "c" * 30
    assert split_html(text, 10) == ["ab ccccccc", "c" * 10, "c" * 10, "ccc"]
    assert split_html(text, 10) == split_text(text, 10)


def test_emoji_count_double() -> None:
    assert split_html("😀" * 3000, 4096)[0] == "😀" * 2048
    assert split_html("😀" * 5, 4) == ["😀😀", "😀😀", "😀"]
    # a numeric entity for an emoji counts like the emoji
    assert split_html("&#128512;" * 3, 4) == ["&#128512;&#128512;", "&#128512;"]


def test_plain_text_splits_as_split_text_does() -> None:
    text = "\n".join(f"baris {i} " + "x" * 50 for i in range(200))
    assert split_html(text, 4096) == split_text(text, 4096)


def test_a_long_reply_with_escaped_user_text_and_buttons_text() -> None:
    user = html.escape('Jalan <rusak> & "berlubang" di depan rumah saya 😡 ') * 100
    text = f"<b>Ringkasan</b>\n\n<i>{user}</i>\n\nKirim?"
    pieces = assert_good_split(text, 1024)
    assert len(pieces) > 1
    assert pieces[-1].endswith("Kirim?")


_word = st.text(alphabet="abcdefghij", min_size=1, max_size=12)
_emoji = st.sampled_from(["😀", "🚧", "🇮🇩", "👍🏽", "é", "\u200d"])
_user = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from(list("<>&\"' ")), max_size=20
).map(html.escape)
_gap = st.sampled_from([" ", " ", " ", "\n", "\n\n"])
_plain = st.lists(st.one_of(_word, _emoji, _user, _gap), min_size=1, max_size=12).map("".join)


def _span(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(lambda tag, body: f"<{tag}>{body}</{tag}>", st.sampled_from(["b", "i"]), inner)


_html = st.recursive(
    _plain,
    lambda inner: st.lists(st.one_of(_plain, _span(inner)), min_size=1, max_size=6).map("".join),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_html, limit=st.integers(min_value=2, max_value=80))
def test_any_text_splits_into_balanced_pieces_within_the_limit(text: str, limit: int) -> None:
    assert_good_split(text, limit)
