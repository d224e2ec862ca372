"""The page widgets written in Python give the markup Django's template-rendered widgets give."""

from __future__ import annotations

from html.parser import HTMLParser

from django import forms

from loyalty.web.forms import PlainSelect


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[tuple] = []

    def handle_starttag(self, tag, attrs):
        self.parts.append(("start", tag, sorted(attrs)))

    def handle_endtag(self, tag):
        self.parts.append(("end", tag))

    def handle_data(self, data):
        if data.strip():
            self.parts.append(("text", data))


def markup(html: str) -> list[tuple]:
    parser = _Markup()
    parser.feed(html)
    return parser.parts


def test_plain_select_renders_what_djangos_select_renders():
    choices = [("new", "Create a new rule…"), ("7", 'Ten "off" <b>&</b> more'), ("8", "Summer")]
    attrs = {"id": "id_rule", "aria-describedby": "rule-help", "required": True}
    for value in (None, "7", "8", "missing"):
        ours = PlainSelect(choices=choices).render("rule", value, attrs)
        theirs = forms.Select(choices=choices).render("rule", value, attrs)
        assert markup(ours) == markup(theirs)
    assert "<b>" not in PlainSelect(choices=choices).render("rule", None)
