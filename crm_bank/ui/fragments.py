"""Rendered page panels kept in the shared cache, keyed on everything they are rendered from.

A panel renders with its own context alone — no request, no context processors, nothing of the page
around it — so the HTML it gives is a function of: the release (every template, module and compiled
translation of the project, hashed once per process), the template's name, the language, the time
zone, today's date and that context. The cache key is a digest of exactly those, the context pickled
(a model row as its fields and the rows loaded with it, not Django's bookkeeping).
So a change to anything a panel shows — a new transaction, a moved balance, another viewer's masking
level (the viewer's `CustomerAccess` is part of the context), a newly published run — makes a new key:
nothing has to be invalidated, and a fragment rendered for one viewer or state is never served for
another. Django's `{% cache %}` tag was not used for this: its fragment reads the whole page context,
so its key would cover only what its author remembered to list.

Fragments expire after `CRM_PANEL_CACHE_SECONDS` (0 turns the cache off). They are stored
zlib-compressed. The cache failing is never the page failing: the panel is rendered instead.
"""

from __future__ import annotations

import hashlib
import io
import logging
import pickle
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import django
from django.conf import settings
from django.core.cache import cache as shared_cache
from django.db.models import Model
from django.template.loader import get_template
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# What the release digest reads: everything of the project that can change what a panel shows.
_RELEASE_SUFFIXES = {".py", ".html", ".mo"}
_SKIPPED_DIRS = {"node_modules", "staticfiles", "__pycache__", "bench", "tests"}


@dataclass(frozen=True)
class Panel:
    """A template and the whole context it renders with (every value must pickle)."""

    template: str
    context: Mapping[str, object]


def panels_rendered(panels: Mapping[str, Panel]) -> dict[str, SafeString]:
    """Each panel's HTML by name: from the cache where an identical rendering is kept (one round trip
    for them all), else rendered and kept (one more)."""
    seconds = settings.CRM_PANEL_CACHE_SECONDS
    if seconds <= 0:
        return {name: _render(panel) for name, panel in panels.items()}
    keys = {name: panel_key(panel) for name, panel in panels.items()}
    try:
        found = shared_cache.get_many(list(keys.values()))
    except (RedisError, OSError):
        logger.warning("panel cache unavailable: rendering the panels", exc_info=True)
        found = {}
    html: dict[str, SafeString] = {}
    rendered: dict[str, bytes] = {}
    for name, panel in panels.items():
        kept = found.get(keys[name])
        if kept is not None:
            html[name] = mark_safe(zlib.decompress(kept).decode())  # noqa: S308 — our own rendering
        else:
            html[name] = _render(panel)
            rendered[keys[name]] = zlib.compress(html[name].encode(), 1)
    if rendered:
        try:
            shared_cache.set_many(rendered, seconds)
        except (RedisError, OSError):
            logger.warning("panel cache unavailable: panels not kept", exc_info=True)
    return html


def panel_key(panel: Panel) -> str:
    """The cache key of `panel` as rendered now, for the current language and time zone."""
    digest = hashlib.blake2b(digest_size=20)
    for part in (release_digest(), panel.template, translation.get_language() or "",
                 timezone.get_current_timezone_name(), timezone.localdate().isoformat()):
        digest.update(part.encode())
        digest.update(b"\0")
    pickled = io.BytesIO()
    try:
        _KeyPickler(pickled, protocol=pickle.HIGHEST_PROTOCOL).dump(dict(panel.context))
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        raise TypeError(f"{panel.template}: every value a panel renders must pickle ({error})") from error
    digest.update(pickled.getbuffer())
    return f"panel:{panel.template}:{digest.hexdigest()}"


class _KeyPickler(pickle.Pickler):
    """Pickles a model instance as its label and the attributes it was read with (related rows loaded
    with it included), without Django's per-instance state (the database alias it came from): the same
    row read twice is the same key. A field the read deferred is not part of it; a panel that needs it
    must have it read. Only ever written, never read."""

    def reducer_override(self, obj):
        if isinstance(obj, Model):
            attributes = {name: value for name, value in obj.__dict__.items() if name != "_state"}
            return _model_key, (obj._meta.label_lower,), (attributes, obj._state.fields_cache)
        return NotImplemented


def _model_key(label: str) -> None:
    """The reconstructor _KeyPickler names for a model instance; keys are never unpickled."""
    raise NotImplementedError(label)


@cache
def release_digest() -> str:
    """A digest of the project's templates, modules and compiled translations, and Django's version:
    a deployment that changes any of them starts from fresh keys."""
    digest = hashlib.blake2b(django.get_version().encode(), digest_size=16)
    base = Path(settings.BASE_DIR)
    for path in sorted(_release_files(base)):
        digest.update(str(path.relative_to(base)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _release_files(directory: Path):
    for entry in directory.iterdir():
        if entry.is_dir():
            if not entry.name.startswith(".") and entry.name not in _SKIPPED_DIRS:
                yield from _release_files(entry)
        elif entry.suffix in _RELEASE_SUFFIXES:
            yield entry


def _render(panel: Panel) -> SafeString:
    return mark_safe(get_template(panel.template).render(dict(panel.context)))  # noqa: S308 — escaped by the template
