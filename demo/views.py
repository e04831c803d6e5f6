from __future__ import annotations

from django.db.models import Count, Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from crm_bank.org.decorators import staff_required
from customers.models import Customer, SourceRecord, Transaction
from demo.activity import demo_activity_counts
from demo.loader import DEMO_CONSENT_SHARE
from demo.pkdd import TRANSACTIONS_END, TRANSACTIONS_IN_FILE


@staff_required()
def data_notes(request: HttpRequest) -> HttpResponse:
    """Where the loaded demo data came from, and what it lacks: only the sources actually loaded."""
    by_system = dict(
        SourceRecord.objects.values_list("system").annotate(n=Count("id")).values_list("system", "n")
    )
    pkdd_customers = by_system.get(SourceRecord.System.PKDD_CORE, 0)
    pkdd_transactions = {"n": 0, "last": None}
    if pkdd_customers:  # the PKDD loader marks its accounts `pkdd:account:<id>`
        pkdd_transactions = Transaction.objects.filter(account__source_ref__startswith="pkdd:account:").aggregate(
            n=Count("id"), last=Max("booked_at"))
    return render(request, "demo/data_notes.html", {
        "pkdd_customers": pkdd_customers,
        "pkdd_transactions": pkdd_transactions["n"],
        "pkdd_last_transaction": pkdd_transactions["last"],
        "uci_customers": by_system.get(SourceRecord.System.UCI_TELEMARKETING, 0),
        "synthetic_customers": by_system.get(SourceRecord.System.SYNTHETIC, 0),
        "transactions_end": TRANSACTIONS_END,
        "transactions_in_file": TRANSACTIONS_IN_FILE,
        # Consent is generated for the public data sets' customers (demo.loader.demo_consent).
        "consenting": Customer.objects.filter(marketing_consent=True).count() if pkdd_customers or by_system.get(
            SourceRecord.System.UCI_TELEMARKETING) else 0,
        "consent_percent": round(100 * DEMO_CONSENT_SHARE),
        "activity": demo_activity_counts(),
    })
