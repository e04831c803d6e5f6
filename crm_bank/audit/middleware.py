"""Every refused request on the audit trail: a 403 (a role guard, another branch's object, a failed
CSRF check) or a 401 (the channel API without a valid token), whichever code refused it."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record, refusals_recorded, request_ip

REFUSED_STATUSES = frozenset({401, 403, 429})
# GET, HEAD and OPTIONS read; anything else asked to change something.
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


class RefusedRequestAuditMiddleware:
    """Records one DENIED row per refused request, unless the code that refused it already wrote
    its own (the 360° page, unmasking, merges: with what was refused and why). The row names the
    route and the path, never the query string or a header (a token stays out of the trail)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        recorded: list[int] = []
        token = refusals_recorded.set(recorded)
        try:
            response = self.get_response(request)
        finally:
            refusals_recorded.reset(token)
        if response.status_code in REFUSED_STATUSES and not recorded:
            refused_request_audit(request, response.status_code)
        return response


def refused_request_audit(request: HttpRequest, status: int) -> AuditEvent:
    match = getattr(request, "resolver_match", None)
    route = (match.view_name if match is not None else "") or ""
    user = getattr(request, "user", None)
    return audit_record(
        actor=user, outcome=AuditEvent.Outcome.DENIED,
        action=AuditEvent.Action.VIEW if request.method in _READS else AuditEvent.Action.CHANGE,
        object_type="request", object_id=route[:40], ip_address=request_ip(request),
        detail={"path": request.path[:500], "method": request.method, "status": status},
    )
