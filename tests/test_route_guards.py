"""Deny by default, proven over the whole URLconf: every route an anonymous visitor reaches sends them
to the login page (the API answers 401), and every route a signed-in user without a staff role
reaches answers 403 — so a new route without a guard fails here. The few public routes are listed
with the reason they are public."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

# Public by design: the login and logout pages, the load balancer's health check, the language switch.
PUBLIC = {"login", "logout", "healthz", "set_language"}
# Values for the routes' parameters (objects need not exist: the guard answers before any look-up).
SAMPLE = {"pk": "999999", "customer_pk": "999999", "run_id": "999999", "code": "A01", "username": "rm_a",
          "cif": "X0000001", "scope": "rm", "key": "rm_a", "kpi_code": "new-customers", "file_format": "csv"}


def _routes(patterns, prefix: str = "", namespace: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if str(pattern.pattern).startswith("admin/"):
                continue  # Django admin: its own login, checked in test_health_and_admin.py
            inner = f"{namespace}:{pattern.namespace}" if namespace and pattern.namespace else (
                pattern.namespace or namespace)
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace else (pattern.name or "")
            yield prefix + str(pattern.pattern), name


def _url(route: str, values: dict[str, str] = SAMPLE) -> str:
    """A concrete path for a route written with converters (<int:pk>) or as a regular expression."""
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m.group(1)], route)
    route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], route)
    route = route.replace("^", "").replace("$", "").replace("\\.", ".")
    return "/" + route


ROUTES = [(route, name) for route, name in _routes(get_resolver().url_patterns)
          if name.split(":")[-1] not in PUBLIC and not route.startswith(settings.STATIC_URL.lstrip("/"))]


def _request(client, url: str):
    """GET, or POST where the route takes only POST (a 405 would hide what the guard does)."""
    response = client.get(url)
    return client.post(url) if response.status_code == 405 else response


def test_the_walk_covers_the_routes():
    names = {name for _route, name in ROUTES}
    assert len(ROUTES) > 80 and {"customers:customer-detail", "performance:diagnosis", "api:interaction-batch",
                                 "campaigns:approve", "segmentation:cross-sell"} <= names


@pytest.mark.parametrize(("route", "name"), ROUTES, ids=[name or route for route, name in ROUTES])
def test_an_anonymous_visitor_is_sent_to_log_in_or_refused_by_the_api(client, route, name):
    response = _request(client, _url(route))
    if route.startswith("api/"):
        assert response.status_code in (401, 403), (name, response.status_code)
    else:
        assert response.status_code == 302 and response["Location"].startswith(resolve_url(settings.LOGIN_URL)), (
            name, response.status_code)


@pytest.mark.parametrize(("route", "name"), ROUTES, ids=[name or route for route, name in ROUTES])
def test_a_user_without_a_staff_role_is_refused(client, no_role_user, route, name):
    """… and the refusal is on the audit trail, once, with the user and the route."""
    from crm_bank.audit.models import AuditEvent

    client.force_login(no_role_user)
    response = _request(client, _url(route))
    assert response.status_code in ((401, 403) if route.startswith("api/") else (403,)), (name, response.status_code)
    refusals = AuditEvent.objects.filter(outcome=AuditEvent.Outcome.DENIED)
    assert refusals.count() == 1, (name, list(refusals.values("object_type", "object_id")))
    refusal = refusals.get()
    if refusal.object_type == "request":  # not a view that records its own refusal
        assert (refusal.object_id, refusal.detail["path"]) == (name[:40], _url(route)), name
        # The channel API authenticates by token alone: its refusals have no signed-in user.
        token_api = route.startswith("api/") and name not in ("api:docs", "api:schema")
        assert refusal.actor_id == (None if token_api else no_role_user.pk), name


# --- another branch's objects: masked or refused -------------------------------------------------------
# What customer_a (branch A) has that the bank masks outside branch A; none may reach an RM of branch B.
SENSITIVE = ("7103192745", "+420601123456", "jana.novakova@example.cz", "Vodickova 12", "601123456")


@pytest.fixture
def branch_a_objects(customer_a, rm_a, branch_a):
    from channels.models import ComplaintSLA
    from channels.services.complaints.cases import complaint_open
    from tests.customers.factories import account_for, transactions_for

    ComplaintSLA.objects.get_or_create(severity="high",
                                       defaults={"resolve_within_hours": 48, "escalation_step_hours": 12})
    transactions_for(account_for(customer_a), 3)
    complaint = complaint_open(customer=customer_a, actor=rm_a, channel="branch", category="fees", severity="high",
                               description="Charged twice; call me on +420601123456")
    # A duplicate of customer_a waiting for review, and a task about her, whose detail carries her phone.
    from channels.models import Task
    from customers.models import MatchCandidate
    from tests.customers.factories import CustomerFactory

    twin = CustomerFactory(home_branch=branch_a, primary_rm=rm_a, first_name="Jana", last_name="Novakova",
                           phone="+420601123456", email="jana.novakova@example.cz", birth_date=customer_a.birth_date)
    left, right = sorted([customer_a, twin], key=lambda customer: customer.pk)
    pair = MatchCandidate.objects.create(left=left, right=right, match_probability=0.97, match_weight=14.0,
                                         comparisons=[{"field": "phone", "level": 2, "label": "exact", "weight": 11.6}],
                                         decision=MatchCandidate.Decision.REVIEW, rule="probabilistic")
    task = Task.objects.create(assignee=rm_a, customer=customer_a, kind=Task.Kind.FOLLOW_UP,
                               due_at=complaint.sla_due_at, title="Call back", detail="Call her on +420601123456")
    # A running campaign that has contacted her (its pages and her outcome page).
    from campaigns.models import Campaign, CampaignContact

    campaign = Campaign.objects.create(code="A-MORT", name="Mortgages", channel="call_centre",
                                       starts_on=complaint.sla_due_at.date(), status=Campaign.Status.ACTIVE)
    CampaignContact.objects.create(campaign=campaign, customer=customer_a, channel="call_centre")
    return {"pk": str(customer_a.pk), "customer_pk": str(customer_a.pk), "complaint": str(complaint.pk),
            "review_pair": str(pair.pk), "task": str(task.pk), "campaign": str(campaign.pk),
            "cif": customer_a.cif, "username": rm_a.username, "code": branch_a.code, "key": rm_a.username}


# Routes whose pk is another object of branch A's than the customer.
OBJECT_PK = {"channels/complaints/": "complaint", "customers/review/": "review_pair", "channels/tasks/": "task",
             "campaigns/": "campaign", "performance/campaign/": "campaign"}


def _url_for(route: str, objects: dict) -> str:
    """`route` asked for branch A's objects (a complaint, review pair, task or campaign route's pk is that
    object's)."""
    values = {**SAMPLE, **objects}
    for prefix, key in OBJECT_PK.items():
        if route.startswith(prefix):
            values["pk"] = objects[key]
    return _url(route, values)


OBJECT_ROUTES = [(route, name) for route, name in ROUTES if "<" in route or "(?P" in route]


@pytest.mark.parametrize(("route", "name"), OBJECT_ROUTES, ids=[name for _route, name in OBJECT_ROUTES])
def test_another_branchs_objects_are_masked_or_refused(client, rm_b, branch_a_objects, route, name):
    """An RM of branch B asks every route for branch A's customer, complaint, RM and branch: the
    answer is refused (403/404; the API takes channel-system tokens only, 401), sent elsewhere, or
    shown without a single masked value."""
    client.force_login(rm_b)
    response = _request(client, _url_for(route, branch_a_objects))
    assert response.status_code in (200, 204, 302, 400, 401, 403, 404), (name, response.status_code)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    leaked = [value for value in SENSITIVE if value.encode() in body]
    assert not leaked, (name, leaked)


def test_the_customers_own_rm_sees_what_the_other_branch_may_not(client, rm_a, branch_a_objects):
    """The walk above would pass on pages that show nothing at all: the customer's RM sees the values."""
    client.force_login(rm_a)
    body = client.get(_url_for("customers/<int:pk>/", branch_a_objects)).content
    assert all(value.encode() in body for value in SENSITIVE[:4])


@pytest.mark.parametrize("name", ["performance:rm", "performance:branch", "channels:complaint-detail"])
def test_another_branchs_scorecards_and_cases_are_refused(client, rm_b, supervisor_b, branch_a_objects, name):
    for user in (rm_b, supervisor_b):
        client.force_login(user)
        route = next(route for route, route_name in OBJECT_ROUTES if route_name == name)
        assert client.get(_url_for(route, branch_a_objects)).status_code in (403, 404), (name, user)


def test_the_walks_review_pair_is_real_and_shows_what_the_other_branch_may_not(client, supervisor_a,
                                                                                branch_a_objects):
    """The review pair and campaign the walk asks branch B's RM for exist: branch A's supervisor sees the
    pair in full, and the campaign."""
    client.force_login(supervisor_a)
    response = client.get(_url_for("customers/review/<int:pk>/", branch_a_objects))
    assert response.status_code == 200 and SENSITIVE[1].encode() in response.content
    assert client.get(_url_for("campaigns/<int:pk>/", branch_a_objects)).status_code == 200  # the campaign too
