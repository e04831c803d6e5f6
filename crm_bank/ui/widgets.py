"""Widgets for option lists rendered on every page view (every RM, every branch)."""

from __future__ import annotations

from django.forms import Select
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


def _attributes(attrs: dict) -> SafeString:
    """As Django's widgets/attrs.html writes them: in order, True bare, False left out."""
    return format_html_join("", "{}", (
        (format_html(" {}", name) if value is True else format_html(' {}="{}"', name, value),)
        for name, value in attrs.items() if value is not False
    ))


class QuickSelect(Select):
    """A select written out in Python: Django renders each <option> through its own template, which
    for the customer list's ~150 RMs and ~80 branches cost more than the rest of the page's filters
    together (the list's short lifecycle and kind lists use it too). Same markup, attributes and
    selection as Select; no option groups (none are used)."""

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        options = format_html_join("", "<option value=\"{}\"{}>{}</option>", (
            (option["value"], _attributes(option["attrs"]), option["label"])
            for _group, group_options, _index in widget["optgroups"] for option in group_options
        ))
        return format_html('<select name="{}"{}>{}</select>', widget["name"], _attributes(widget["attrs"]), options)
