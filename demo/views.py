from __future__ import annotations

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from crm_bank.org.decorators import staff_required
from customers.models import SourceRecord
from demo.pkdd import TRANSACTIONS_END


@staff_required()
def data_notes(request: HttpRequest) -> HttpResponse:
    """Where the demo's data came from, and what it lacks."""
    by_system = dict(
        SourceRecord.objects.values_list("system").annotate(n=Count("id")).values_list("system", "n")
    )
    return render(request, "demo/data_notes.html", {
        "pkdd_customers": by_system.get(SourceRecord.System.PKDD_CORE, 0),
        "uci_customers": by_system.get(SourceRecord.System.UCI_TELEMARKETING, 0),
        "synthetic_customers": by_system.get(SourceRecord.System.SYNTHETIC, 0),
        "transactions_end": TRANSACTIONS_END,
    })
