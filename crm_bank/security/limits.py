"""Per-user allowances for look-ups that can be misused one harmless answer at a time (a masked
identifier recovered by trying candidates): counted in the shared cache in fixed windows, answered
with 429 once spent (RateLimitedMiddleware)."""

from __future__ import annotations

import logging
import time

from django.core.cache import cache
from django.utils.translation import ngettext

logger = logging.getLogger(__name__)


class RateLimited(Exception):
    """The user's allowance for `scope` is spent until the window ends in `retry_after` seconds."""

    def __init__(self, *, scope: str, limit: int, window_seconds: int, retry_after: int) -> None:
        super().__init__(f"{scope}: more than {limit} in {window_seconds} s")
        self.scope, self.limit, self.window_seconds, self.retry_after = scope, limit, window_seconds, retry_after

    def notice(self) -> str:
        """What the user is told: when to try again, and that the look-ups are on the trail."""
        minutes = -(-self.retry_after // 60)
        return ngettext(
            "Too many look-ups by identifier. Try again in %(minutes)d minute. The look-ups are on the audit "
            "trail; if your work needs more, ask your branch supervisor.",
            "Too many look-ups by identifier. Try again in %(minutes)d minutes. The look-ups are on the audit "
            "trail; if your work needs more, ask your branch supervisor.",
            minutes,
        ) % {"minutes": minutes}


def allowance_take(*, scope: str, ident: object, limit: int, window_seconds: int) -> None:
    """Counts one use by `ident` in the current window of `window_seconds`; raises RateLimited from
    the (limit + 1)th. A cache that fails is logged and the use allowed: an outage of Redis must not
    stop the branches' counters, and every such look-up is on the audit trail anyway."""
    now = time.time()
    window = int(now // window_seconds)
    key = f"allowance:{scope}:{ident}:{window}"
    try:
        try:
            used = cache.incr(key)
        except ValueError:  # the window's first use (or a race with another's first: then count on theirs)
            used = 1 if cache.add(key, 1, timeout=window_seconds + 60) else cache.incr(key)
    except Exception:  # noqa: BLE001 - any cache failure: allow, and say so
        logger.warning("allowance %s for %s not counted: the cache failed", scope, ident, exc_info=True)
        return
    if used > limit:
        raise RateLimited(scope=scope, limit=limit, window_seconds=window_seconds,
                          retry_after=max(1, int((window + 1) * window_seconds - now)))
