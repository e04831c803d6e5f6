from __future__ import annotations

import factory

from crm_bank.runs.models import Run


class RunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Run

    kind = "test_count_users"
    params = factory.LazyFunction(dict)
