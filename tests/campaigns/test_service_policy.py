"""Service policy by value tier: the seeded defaults, a segment's own policy, the database's rules,
the audited admin, and the cache every 360° page reads it from."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from campaigns.models import ServicePolicy
from campaigns.selectors import service_policy_for
from crm_bank.audit.models import AuditEvent
from segmentation.models import RuleSegment

pytestmark = pytest.mark.django_db


def test_the_bank_starts_with_a_policy_per_tier():
    a, b, c = (service_policy_for(tier=tier) for tier in "ABC")
    assert (a.service_level, a.min_contact_days) == ("dedicated_rm", 30) and "branch" in a.channels
    assert (b.service_level, b.min_contact_days) == ("priority", 60)
    assert (c.service_level, c.min_contact_days) == ("digital", 90)
    assert set(c.channels) <= {"email", "sms", "mobile", "web"}  # tier C: digital only
    assert service_policy_for(tier="Z") is None


def test_a_segments_own_policy_overrides_the_tiers_for_its_members():
    young = RuleSegment.objects.create(name="Young digital", rule="age < 30")
    ServicePolicy.objects.create(tier="B", segment=young, channels=["mobile"], min_contact_days=45,
                                 service_level="digital")
    assert service_policy_for(tier="B", segment_ids=[young.pk]).channels == ("mobile",)
    assert service_policy_for(tier="B", segment_ids=[young.pk + 1000]).service_level == "priority"
    assert service_policy_for(tier="B").service_level == "priority"
    assert service_policy_for(tier="A", segment_ids=[young.pk]).service_level == "dedicated_rm"


@pytest.mark.parametrize(("fields", "constraint"), [
    ({"tier": "A", "channels": ["web"], "min_contact_days": 10, "service_level": "standard"}, "one_per_tier"),
    ({"tier": "A", "segment": "new", "channels": [], "min_contact_days": 10, "service_level": "standard"},
     "some_channel"),
    ({"tier": "A", "segment": "new", "channels": ["web"], "min_contact_days": 0, "service_level": "standard"},
     "interval_positive"),
])
def test_the_database_refuses_a_second_tier_policy_no_channel_and_no_interval(fields, constraint):
    if fields.get("segment") == "new":
        fields = {**fields, "segment": RuleSegment.objects.create(name="Any", rule="age > 0")}
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        ServicePolicy.objects.create(**fields)


def test_an_admin_edits_a_policy_the_change_is_audited_and_pages_read_it_at_once(client, bank_admin):
    assert service_policy_for(tier="A").min_contact_days == 30  # now cached
    policy = ServicePolicy.objects.get(tier="A", segment=None)
    client.force_login(bank_admin)
    response = client.post(reverse("admin:campaigns_servicepolicy_change", args=[policy.pk]), {
        "tier": "A", "segment": "", "service_level": "dedicated_rm", "channels": ["branch", "call_centre"],
        "min_contact_days": "14", "note": "Fortnightly",
    })
    assert response.status_code == 302
    assert service_policy_for(tier="A").min_contact_days == 14  # the save dropped the cached copy
    assert service_policy_for(tier="A").channels == ("branch", "call_centre")
    assert AuditEvent.objects.filter(object_type="service_policy", object_id=str(policy.pk)).exists()


def test_the_admin_form_refuses_no_channels(client, bank_admin):
    policy = ServicePolicy.objects.get(tier="C", segment=None)
    client.force_login(bank_admin)
    response = client.post(reverse("admin:campaigns_servicepolicy_change", args=[policy.pk]), {
        "tier": "C", "segment": "", "service_level": "digital", "min_contact_days": "90"})
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert service_policy_for(tier="C").channels  # unchanged
