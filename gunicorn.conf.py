# Gunicorn reads this file from the working directory (compose and `make smoke` start it there).
# The access log leaves out the query string and the referrer: a customer search carries a
# national ID, phone or account number in them, and those must not land in server logs.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss "%(a)s"'


def post_worker_init(worker):  # noqa: ANN001, ANN201 - gunicorn's server hook
    """Once the worker has loaded the application: digest the release for the panel cache's keys (it
    reads the project's files once), then freeze the start-up heap (crm_bank.gc_tuning)."""
    from crm_bank.gc_tuning import worker_heap_freeze
    from crm_bank.ui.fragments import release_digest

    release_digest()
    worker_heap_freeze()
