"""`{% fixed_url 'name' %}`: `{% url 'name' %}` for a route without arguments, and
`{% id_url 'name' pk %}`: `{% url 'name' pk %}` for a route whose one argument is an integer id,
worked out once (crm_bank.ui.links) instead of reverse() on every render — for the paths every page's
frame prints and the dozen links of each 360° page (about 20 µs each with reverse())."""

from __future__ import annotations

from django import template

from crm_bank.ui.links import fixed_url as _fixed_url
from crm_bank.ui.links import id_url as _id_url

register = template.Library()


@register.simple_tag
def fixed_url(name: str) -> str:
    return _fixed_url(name)


@register.simple_tag
def id_url(name: str, object_id: int) -> str:
    return _id_url(name, object_id)
