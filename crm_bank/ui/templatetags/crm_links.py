"""`{% fixed_url 'name' %}`: `{% url 'name' %}` for a route without arguments, worked out once
(crm_bank.ui.links) instead of on every render — for the paths every page's frame prints."""

from __future__ import annotations

from django import template

from crm_bank.ui.links import fixed_url as _fixed_url

register = template.Library()


@register.simple_tag
def fixed_url(name: str) -> str:
    return _fixed_url(name)
