"""The channel ingest API, one item at a time: auth, validation, idempotency, holding, rate limit,
the timeline read, the schema and the documentation page."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client

from channels.models import ChannelSystem, HeldInteraction, Interaction, InteractionDailyCount
from channels.services import interactions as interactions_module
from channels.services.interactions import NewInteraction, interactions_store
from channels.services.systems import channel_system_register, channel_token_create, channel_token_revoke
from crm_bank.audit.models import AuditEvent
from tests.customers.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/interactions/"
UTC = datetime.UTC


@pytest.fixture
def system() -> ChannelSystem:
    return channel_system_register(code="call-centre", name="Call centre")[0]


@pytest.fixture
def token(system) -> str:
    return channel_token_create(system=system)[1]


@pytest.fixture
def api(token) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {token}")


@pytest.fixture
def customer(branch_a):
    return CustomerFactory(cif="C000000001", home_branch=branch_a)


def item(**changes) -> dict:
    body = {
        "customer": "C000000001", "channel": "call_centre", "kind": "enquiry", "direction": "inbound",
        "occurred_at": "2026-11-02T09:15:00+01:00", "summary": "Asked about the mortgage rate", "source_id": "cc-1",
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def post(client: Client, body: object, url: str = URL):
    return client.post(url, body, content_type="application/json")


def test_post_stores_the_interaction_as_sent_by_the_tokens_system(api, system, customer):
    from campaigns.models import Campaign

    Campaign.objects.create(code="MORT26", name="Mortgages 2026", channel="call_centre",
                            starts_on=datetime.date(2026, 11, 1), status=Campaign.Status.ACTIVE)
    response = post(api, item(outcome="Rate sheet sent", campaign="MORT26"))
    assert response.status_code == 201, response.content
    body = response.json()
    stored = Interaction.objects.get()
    assert body["id"] == stored.pk
    assert {key: body[key] for key in ("customer", "channel", "kind", "direction", "summary", "outcome", "campaign",
                                       "source_system", "source_id", "staff")} == {
        "customer": "C000000001", "channel": "call_centre", "kind": "enquiry", "direction": "inbound",
        "summary": "Asked about the mortgage rate", "outcome": "Rate sheet sent", "campaign": "MORT26",
        "source_system": "call-centre", "source_id": "cc-1", "staff": None,
    }
    assert datetime.datetime.fromisoformat(body["occurred_at"]) == datetime.datetime(2026, 11, 2, 8, 15, tzinfo=UTC)
    assert body["recorded_at"]
    assert stored.source_system_id == system.pk and stored.customer_id == customer.pk
    assert stored.branch_id == customer.home_branch_id
    customer.refresh_from_db()
    assert customer.last_contact_channel == "call_centre"
    audit = AuditEvent.objects.get(object_type="interaction")
    assert audit.object_id == str(stored.pk) and audit.actor_id is None
    assert audit.detail["system"] == "call-centre" and audit.detail["created"] == 1


def test_replay_returns_the_original_and_writes_nothing(api, customer):
    first = post(api, item())
    # The same moment in another offset and the keys in another order: the same body.
    again = post(api, dict(reversed(list(item(occurred_at="2026-11-02T08:15:00Z").items()))))
    assert again.status_code == 200
    assert again.json() == first.json()
    assert Interaction.objects.count() == 1
    assert InteractionDailyCount.objects.get().count == 1


def test_same_source_id_with_another_body_is_a_conflict(api, customer):
    original = post(api, item()).json()
    response = post(api, item(summary="Something else"))
    assert response.status_code == 409
    assert response.json()["id"] == original["id"]
    assert "source_id" in response.json()["errors"]
    assert Interaction.objects.get().summary == "Asked about the mortgage rate"


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"channel": "pigeon"}, "channel", "Unknown channel “pigeon”."),
    ({"kind": "chat"}, "kind", "Unknown kind “chat”."),
    ({"direction": "sideways"}, "direction", "Direction must be inbound or outbound."),
    ({"occurred_at": "2026-11-02T09:15:00"}, "occurred_at", "UTC offset"),
    ({"occurred_at": "yesterday"}, "occurred_at", "UTC offset"),
    ({"occurred_at": "2026-13-02T09:15:00+01:00"}, "occurred_at", "UTC offset"),
    ({"occurred_at": "2099-01-01T00:00:00+00:00"}, "occurred_at", "cannot be in the future"),
    ({"summary": "  "}, "summary", "This field is required."),
    ({"summary": "x" * 501}, "summary", "At most 500 characters."),
    ({"outcome": "x" * 201}, "outcome", "At most 200 characters."),
    ({"campaign": "x" * 33}, "campaign", "At most 32 characters."),
    ({"source_id": None}, "source_id", "This field is required."),
    ({"source_id": "x" * 65}, "source_id", "At most 64 characters."),
    ({"customer": None}, "customer", "This field is required."),
    ({"summary": 12}, "summary", "Must be a string."),
    ({"staff": "nobody"}, "staff", "No active member of staff with this username."),
    ({"product": "NOPE"}, "product", "No product with this code."),
    ({"category": "weather"}, "category", "Unknown complaint category “weather”."),
    ({"severity": "apocalyptic"}, "severity", "Unknown severity “apocalyptic”."),
    ({"colour": "blue"}, "colour", "Unknown field."),
    ({"source_system": "atm-switch"}, "source_system", "“call-centre”"),
    # PostgreSQL text cannot hold NUL: refused as the field's error, not a server error.
    ({"summary": "Card\u0000 stuck"}, "summary", "Must not contain NUL characters."),
    ({"outcome": "\u0000"}, "outcome", "Must not contain NUL characters."),
    ({"customer": "C000000001\u0000"}, "customer", "Must not contain NUL characters."),
    ({"source_id": "cc\u00001"}, "source_id", "Must not contain NUL characters."),
    ({"category": "fees\u0000"}, "category", "Must not contain NUL characters."),
])
def test_invalid_field_is_refused_with_its_message_and_nothing_written(api, customer, changes, field, message):
    response = post(api, item(**changes))
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "error"
    assert message in body["errors"][field]
    assert not Interaction.objects.exists()
    assert not HeldInteraction.objects.exists()


def test_several_bad_fields_get_a_message_each(api, customer):
    response = post(api, item(channel="pigeon", kind="chat", summary=""))
    assert set(response.json()["errors"]) == {"channel", "kind", "summary"}


@pytest.mark.parametrize("body", [["not", "an", "object"], "\"text\"", "42"])
def test_a_body_that_is_not_an_object_is_refused(api, customer, body):
    response = post(api, body)
    assert response.status_code == 400
    assert response.json()["errors"] == {"item": "Each item must be a JSON object."}


def test_malformed_json_is_refused(api, customer):
    response = api.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert not Interaction.objects.exists()


def test_numeric_ids_are_read_as_text(api, customer):
    response = post(api, item(source_id=98765))
    assert response.status_code == 201
    assert post(api, item(source_id="98765")).status_code == 200


def test_staff_and_product_are_resolved_and_the_staff_branch_counts(api, customer, rm_b):
    ProductFactory(code="MORTGAGE", name="Mortgage", category="loan")
    response = post(api, item(staff="rm_b", product="MORTGAGE", kind="feedback"))
    assert response.status_code == 201, response.content
    stored = Interaction.objects.select_related("product").get()
    assert stored.staff_id == rm_b.pk and stored.product.code == "MORTGAGE"
    assert stored.branch_id == rm_b.staff_profile.branch_id  # the staff member's branch, not the customer's
    assert response.json()["staff"] == "rm_b"


def test_complaint_fields_reach_the_after_store_hooks(api, customer, monkeypatch):
    seen: list[NewInteraction] = []
    monkeypatch.setattr(interactions_module, "_AFTER_STORE", [lambda rows, items, actor: seen.extend(items)])
    response = post(api, item(kind="complaint", category="fees", severity="high"))
    assert response.status_code == 201
    assert seen[0].extra == {"category": "fees", "severity": "high"}


def test_unknown_customer_is_held_once_and_never_dropped(api, system):
    response = post(api, item(customer="C999999999", source_id="cc-77"))
    assert response.status_code == 202
    held = HeldInteraction.objects.get()
    assert response.json()["held_id"] == held.pk and response.json()["status"] == "held"
    assert (held.system_id, held.customer_ref, held.source_id) == (system.pk, "C999999999", "cc-77")
    assert held.payload["summary"] == "Asked about the mortgage rate"
    again = post(api, item(customer="C999999999", source_id="cc-77"))
    assert again.status_code == 202 and again.json()["held_id"] == held.pk
    changed = post(api, item(customer="C999999999", source_id="cc-77", summary="Other"))
    assert changed.status_code == 409
    assert HeldInteraction.objects.count() == 1
    assert not Interaction.objects.exists()


def test_an_invalid_item_for_an_unknown_customer_is_an_error_not_held(api):
    response = post(api, item(customer="C999999999", channel="pigeon"))
    assert response.status_code == 400
    assert not HeldInteraction.objects.exists()


@pytest.mark.parametrize("header", [None, "Token wrong-token", "Bearer abc", "Token", "Token a b"])
def test_missing_or_wrong_token_is_401_and_writes_nothing(customer, header):
    client = Client(HTTP_AUTHORIZATION=header) if header else Client()
    response = post(client, item())
    assert response.status_code == 401
    assert "Location" not in response  # not the sign-in redirect of the pages
    assert not Interaction.objects.exists()


def test_revoked_token_is_401(api, system, customer):
    channel_token_revoke(token=system.tokens.get(), actor=None)
    assert post(api, item()).status_code == 401
    assert not Interaction.objects.exists()


def test_inactive_system_is_401(api, system, customer):
    ChannelSystem.objects.filter(pk=system.pk).update(is_active=False)
    assert post(api, item()).status_code == 401
    assert not Interaction.objects.exists()


def test_source_ids_are_scoped_to_the_tokens_system(api, customer):
    other = Client(HTTP_AUTHORIZATION=f"Token {channel_token_create(system=channel_system_register(code='atm')[0])[1]}")
    assert post(api, item()).status_code == 201
    response = post(other, item())
    assert response.status_code == 201
    assert response.json()["source_system"] == "atm"
    assert Interaction.objects.count() == 2


def test_rate_limit_per_token_answers_429(api, customer, settings, token):
    settings.CRM_CHANNEL_API_RATE = "2/min"
    assert post(api, item(source_id="r1")).status_code == 201
    assert post(api, item(source_id="r2")).status_code == 201
    response = post(api, item(source_id="r3"))
    assert response.status_code == 429
    assert not Interaction.objects.filter(source_id="r3").exists()
    # Another token has its own allowance.
    other = Client(HTTP_AUTHORIZATION=f"Token {channel_token_create(system=ChannelSystem.objects.get())[1]}")
    assert post(other, item(source_id="r3")).status_code == 201


def test_single_post_query_budget(api, customer, django_assert_max_num_queries):
    with django_assert_max_num_queries(16):
        assert post(api, item()).status_code == 201


# The timeline read ---------------------------------------------------------------------------------


def _contacts(customer, count: int, **fields) -> list[Interaction]:
    base = datetime.datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    return interactions_store(items=[
        NewInteraction(customer_id=customer.pk, channel=fields.get("channel", "atm"),
                       kind=fields.get("kind", "enquiry"), direction="inbound",
                       occurred_at=base + datetime.timedelta(hours=i),
                       summary=f"Secret summary {i}", outcome="Done")
        for i in range(count)
    ])


def test_timeline_lists_newest_first_masked_for_a_system_of_no_branch(api, customer):
    rows = _contacts(customer, 5)
    response = api.get(f"/api/v1/customers/{customer.cif}/timeline/?limit=3")
    assert response.status_code == 200
    body = response.json()
    assert [r["id"] for r in body["results"]] == [rows[4].pk, rows[3].pk, rows[2].pk]
    assert body["masked"] is True
    assert {r["summary"] for r in body["results"]} == {"****"}
    assert {r["outcome"] for r in body["results"]} == {"****"}
    audit = AuditEvent.objects.get(object_type="customer", object_id=str(customer.pk))
    assert audit.outcome == AuditEvent.Outcome.MASKED and audit.detail["system"] == "call-centre"


def test_timeline_unmasked_for_the_customers_own_branch_system(api, system, customer, branch_b):
    _contacts(customer, 2)
    system.branch = customer.home_branch
    system.save(update_fields=["branch"])
    body = api.get(f"/api/v1/customers/{customer.cif}/timeline/").json()
    assert body["masked"] is False
    assert body["results"][0]["summary"] == "Secret summary 1"
    system.branch = branch_b
    system.save(update_fields=["branch"])
    assert api.get(f"/api/v1/customers/{customer.cif}/timeline/").json()["masked"] is True


def test_timeline_filters_by_channel_and_kind(api, customer):
    _contacts(customer, 2, channel="atm")
    web = _contacts(customer, 2, channel="web", kind="sale")
    body = api.get(f"/api/v1/customers/{customer.cif}/timeline/?channel=web&kind=sale").json()
    assert {r["id"] for r in body["results"]} == {row.pk for row in web}
    assert api.get(f"/api/v1/customers/{customer.cif}/timeline/?channel=atm&kind=sale").json()["results"] == []


def test_timeline_is_capped_at_100(api, customer):
    _contacts(customer, 105)
    assert len(api.get(f"/api/v1/customers/{customer.cif}/timeline/?limit=100").json()["results"]) == 100


@pytest.mark.parametrize("cif", ["C000000001%00", "%00"])
def test_timeline_of_a_customer_number_with_a_nul_is_not_found(api, customer, cif):
    response = api.get(f"/api/v1/customers/{cif}/timeline/")
    assert response.status_code == 404
    assert response.json() == {"detail": "No customer with this number."}


@pytest.mark.parametrize(("query", "field"), [("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"),
                                              ("channel=pigeon", "channel"), ("kind=chat", "kind")])
def test_timeline_refuses_bad_filters(api, customer, query, field):
    response = api.get(f"/api/v1/customers/{customer.cif}/timeline/?{query}")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_timeline_unknown_customer_is_404_and_anonymous_401(api, customer):
    assert api.get("/api/v1/customers/NOPE/timeline/").status_code == 404
    assert Client().get(f"/api/v1/customers/{customer.cif}/timeline/").status_code == 401


def test_timeline_query_budget_does_not_grow_with_history(api, customer, django_assert_max_num_queries):
    _contacts(customer, 60)
    with django_assert_max_num_queries(8):
        assert api.get(f"/api/v1/customers/{customer.cif}/timeline/?limit=50").status_code == 200


# Schema and documentation --------------------------------------------------------------------------


def test_schema_documents_the_contract_for_a_token_and_staff(api, rm_a):
    response = api.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    create = schema["paths"]["/api/v1/interactions/"]["post"]
    assert set(create["responses"]) == {"200", "201", "202", "400", "401", "409", "429"}
    assert "/api/v1/interactions/batch/" in schema["paths"]
    assert "channelToken" in schema["components"]["securitySchemes"]
    staff = Client()
    staff.force_login(rm_a)
    assert staff.get("/api/schema/").status_code == 200


def test_schema_needs_a_token_or_staff(no_role_user):
    assert Client().get("/api/schema/").status_code == 401
    signed_in = Client()
    signed_in.force_login(no_role_user)
    assert signed_in.get("/api/schema/").status_code == 403


def test_docs_page_for_staff_lists_endpoints_without_cdn(rm_a, django_assert_max_num_queries):
    client = Client()
    client.force_login(rm_a)
    with django_assert_max_num_queries(6):
        response = client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    for text in ("/api/v1/interactions/batch/", "/api/v1/customers/CIF/timeline/", "source_id", "409",
                 'href="/api/schema/"', "call_centre"):
        assert text in page
    assert "cdn" not in page.lower() and "unpkg" not in page.lower()


def test_docs_page_anonymous_gets_401_with_a_sign_in_link_and_no_role_403(no_role_user):
    response = Client().get("/api/docs/")
    assert response.status_code == 401
    assert "/accounts/login/?next=%2Fapi%2Fdocs%2F" in response.content.decode()
    signed_in = Client()
    signed_in.force_login(no_role_user)
    assert signed_in.get("/api/docs/").status_code == 403


def test_a_body_larger_than_the_api_accepts_is_refused_before_it_is_parsed(api, customer, settings):
    settings.CRM_API_MAX_BODY_BYTES = 2_000
    small = item(summary="Asked about a card")
    large = item(summary="x" * 400, source_id="big")

    refused = post(api, {"items": [large] * 6}, url="/api/v1/interactions/batch/")
    accepted = post(api, small)

    assert refused.status_code == 413 and refused.json()["detail"].startswith("The request body is larger")
    assert accepted.status_code == 201
    assert list(Interaction.objects.values_list("source_id", flat=True)) == [small["source_id"]]


def test_a_body_is_bounded_even_when_it_declares_no_length(customer, settings):
    from io import BytesIO

    from rest_framework.test import APIRequestFactory

    from channels.api.parsers import BoundedJSONParser, RequestBodyTooLarge

    settings.CRM_API_MAX_BODY_BYTES = 100
    request = APIRequestFactory().post("/", data="{}", content_type="application/json")
    request.META.pop("CONTENT_LENGTH", None)
    with pytest.raises(RequestBodyTooLarge):
        BoundedJSONParser().parse(BytesIO(b'{"a": "' + b"y" * 200 + b'"}'), parser_context={"request": request})
    assert BoundedJSONParser().parse(BytesIO(b'{"a": 1}'), parser_context={"request": request}) == {"a": 1}
