"""The IRC bridge's pure parts: lines, formatting both ways, and the nominated connection."""
from __future__ import annotations

import pytest

from appliance.bridges.irc import formatting as f
from appliance.bridges.irc.nominate import Channel, Line
from appliance.bridges.irc.protocol import Message, format_line, irc_lower, nick_from, parse_line, split_text


def test_parse_lines_with_tags_prefix_and_trailing():
    m = parse_line("@time=2026-12-05T10:00:00Z;msgid=a\\sb :nick!user@host PRIVMSG #chan :hello there\r\n")
    assert m == Message("PRIVMSG", ("#chan", "hello there"), "nick!user@host",
                        {"time": "2026-12-05T10:00:00Z", "msgid": "a b"})
    assert m.nick == "nick"
    assert parse_line("PING :irc.example") == Message("PING", ("irc.example",))
    assert parse_line(":irc.hearth.test 001 alice :Welcome").nick is None
    assert parse_line("") is None


def test_format_refuses_injection():
    assert format_line("PRIVMSG", "#c", "hi there") == "PRIVMSG #c :hi there"
    assert format_line("JOIN", "#c") == "JOIN #c"
    with pytest.raises(ValueError):
        format_line("PRIVMSG", "#c", "one\r\nQUIT :gotcha")
    with pytest.raises(ValueError):
        format_line("PRIVMSG", "#c d", "x")


def test_long_text_is_split_within_the_limit_at_spaces_and_never_inside_a_character():
    text = ("word " * 200) + "ü" * 400
    lines = split_text(text, "PRIVMSG", "#hearth")
    assert all(len(f"PRIVMSG #hearth :{line}\r\n".encode()) <= 512 - 100 for line in lines)
    assert " ".join(lines).replace("  ", " ").startswith("word word")
    assert "".join(lines).count("ü") == 400
    assert split_text("one\ntwo\n\nthree", "PRIVMSG", "#c") == ["one", "two", "three"]


def test_nicks_and_case():
    assert irc_lower("Nick[A]") == "nick{a}"
    assert nick_from("alice.smith") == "alicesmith"
    assert nick_from("1st") == "m1st"
    assert nick_from("") == "hearthuser"


def test_irc_formatting_becomes_html():
    c = f.irc_to_matrix("plain \x02bold\x02 \x1ditalic\x1d \x0304red\x03 end")
    assert c["body"] == "plain bold italic red end"
    assert c["formatted_body"] == 'plain <b>bold</b> <i>italic</i> <font data-mx-color="#ff0000">red</font> end'
    assert "formatted_body" not in f.irc_to_matrix("just text <b>")
    assert f.irc_to_matrix("a <b> & c\x02!")["formatted_body"] == "a &lt;b&gt; &amp; c<b>!</b>"


def test_matrix_messages_become_irc_lines():
    assert f.matrix_to_irc({"msgtype": "m.text", "body": "hi\nthere"}) == (["hi", "there"], False)
    assert f.matrix_to_irc({"msgtype": "m.emote", "body": "waves"}) == (["waves"], True)
    html = {"msgtype": "m.text", "body": "x", "format": "org.matrix.custom.html",
            "formatted_body": "<mx-reply><blockquote>old</blockquote></mx-reply><b>bold</b> and <a href=\"https://e.org\">a link</a>"}
    assert f.matrix_to_irc(html)[0] == ["\x02bold\x02 and a link <https://e.org>"]
    edit = {"msgtype": "m.text", "body": "* fixed", "m.new_content": {"msgtype": "m.text", "body": "fixed"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$x"}}
    assert f.matrix_to_irc(edit)[0] == ["* fixed"]
    image = {"msgtype": "m.image", "body": "cat.jpg", "url": "mxc://h/abc"}
    assert f.matrix_to_irc(image, media_url="http://hearth.local/m/abc")[0] == ["cat.jpg: http://hearth.local/m/abc"]
    reply = {"msgtype": "m.text", "body": "> <@bob:h> the old line\n\nmy answer"}
    lines, _ = f.matrix_to_irc(reply, replied_to="the old line", replied_sender="bob")
    assert lines == ["bob: “the old line” ← my answer"]


def test_one_connection_relays_and_a_takeover_loses_and_repeats_nothing():
    ch = Channel()
    for conn in ("alice", "bob", "carol"):
        ch.joined(conn)
    assert ch.nominee == "alice"
    lines = [Line("dave", "PRIVMSG", f"m{i}") for i in range(6)]
    relayed: list[Line] = []
    for line in lines[:3]:  # everyone hears them; only alice's relay
        for conn in ("alice", "bob", "carol"):
            relayed += ch.heard(conn, line)
    for line in lines[3:5]:  # alice's connection is gone but not yet noticed: bob and carol hear them
        for conn in ("bob", "carol"):
            relayed += ch.heard(conn, line)
    relayed += ch.left("alice")  # noticed: bob takes over and relays what alice missed
    assert ch.nominee == "bob"
    for conn in ("bob", "carol"):
        relayed += ch.heard(conn, lines[5])
    assert relayed == lines  # each once, in order


def test_a_repeated_text_is_not_mistaken_for_the_last_relayed_one():
    ch = Channel()
    ch.joined("a")
    ch.joined("b")
    same = Line("x", "PRIVMSG", "ok")
    out = []
    for line in (same, Line("x", "PRIVMSG", "then"), same):
        out += ch.heard("a", line) + ch.heard("b", line)
    extra = Line("x", "PRIVMSG", "after")
    out += ch.heard("b", extra)   # only b heard it: a was already gone
    out += ch.left("a")
    assert out == [same, Line("x", "PRIVMSG", "then"), same, extra]


def test_a_new_nominee_that_reads_the_channel_later_relays_nothing_twice():
    ch = Channel()
    ch.joined("alice")
    ch.joined("bob")
    lines = [Line("dave", "PRIVMSG", f"m{i}") for i in range(6)]
    out = []
    for line in lines[:4]:
        out += ch.heard("alice", line)       # alice read m0..m3 and relayed them
    out += ch.heard("bob", lines[0])         # bob has only read m0 so far
    out += ch.left("alice")                  # alice drops: bob takes over while behind
    assert out == lines[:4]
    for line in lines[1:]:                   # bob reads on: m1..m3 were relayed already
        out += ch.heard("bob", line)
    assert out == lines                      # each once, in order
