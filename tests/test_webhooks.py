"""The admin's webhook pages: endpoints created with a secret shown once, URLs checked against
private addresses, edited, deleted after confirmation, secrets rotated, test events queued."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from crm.audit.actions import ACTIONS
from crm.core.enums import OutboxStatus, Role
from crm.users.models import SecurityPolicy
from crm.webhooks import services
from crm.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.conftest import fresh
from tests.helpers import audit_events, count, post, reloaded, text_of

PUBLIC_URL = "https://93.184.216.34/hooks/landing-desk?token=receiver-own"
SECRET = re.compile(r'<code class="webhook-secret">([^<]+)</code>')
#: Internal addresses in their usual disguises; "localhost" is a name that resolves to one.
PRIVATE_URLS = ("http://127.0.0.1/hook", "http://10.0.0.1/hook", "http://192.168.1.20/hook",
                "http://169.254.169.254/latest/meta-data", "http://[::1]:8080/hook",
                "http://localhost:5000/hook", "http://[::ffff:127.0.0.1]/hook",
                "http://100.64.0.1/hook", "http://0.0.0.0/hook", "http://224.0.0.1/hook",
                "http://[fe80::1]/hook", "http://[fd00::1]/hook")


@pytest.fixture
def admin(client_as):
    return client_as(Role.ADMIN)


def create(client, url: str = PUBLIC_URL, events=("startup.created",), description="CRM sync"):
    return post(client, "/admin/webhooks/new",
                {"url": url, "description": description, "events": list(events)})


def the_endpoint(db) -> WebhookEndpoint:
    return fresh(db).scalars(select(WebhookEndpoint)).one()


def allow_private(client, allowed: bool = True):
    response = post(client, "/admin/security/webhooks",
                    {"webhooks_allow_private": "y"} if allowed else {})
    assert response.status_code == 302
    return response


def field_error(page: str, field: str) -> str:
    """The errors shown next to the field."""
    found = re.search(rf'<ul class="errors" id="{field}-errors">(.*?)</ul>', page, re.S)
    return found.group(1) if found else ""


# Creating ------------------------------------------------------------------------------------


def test_a_new_endpoint_shows_its_secret_once_and_keeps_it_encrypted(app, admin, db):
    client, me = admin
    response = create(client, events=("startup.created", "enrollment.closed"))

    assert response.status_code == 200
    secret = SECRET.search(text_of(response)).group(1)
    assert len(secret) >= 40
    endpoint = the_endpoint(db)
    assert (endpoint.url, endpoint.description, endpoint.events, endpoint.active,
            endpoint.created_by_id) == (PUBLIC_URL, "CRM sync",
                                        ["startup.created", "enrollment.closed"], True, me.id)
    assert secret not in endpoint.secret_encrypted
    with app.app_context():
        assert services.secret_of(endpoint) == secret
    page = text_of(client.get(f"/admin/webhooks/{endpoint.id}"))
    assert PUBLIC_URL in page and secret not in page
    listing = text_of(client.get("/admin/webhooks/"))
    assert "https://93.184.216.34" in listing and "receiver-own" not in listing
    [event] = audit_events(db, "webhook.created")
    assert (event.actor_user_id, event.object_type, event.object_id) == (
        me.id, "webhook_endpoint", endpoint.id)
    assert event.details["url"] == "https://93.184.216.34"  # a path may hold a receiver's token
    assert secret not in str(event.details)


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://93.184.216.34/hook", "Use an http:// or https:// URL."),
    ("javascript:alert(1)", "Use an http:// or https:// URL."),
    ("https:///hook", "The URL needs a host name."),
    ("https://user:pass@93.184.216.34/hook", "Put no user name or password in the URL"),
    ("https://93.184.216.34:99999/hook", "not a valid port number"),
    ("https://no-such-host.invalid/hook", "could not be resolved"),
])
def test_an_unusable_url_is_refused_next_to_the_field_and_everything_is_kept(admin, db, url,
                                                                               message):
    client, _me = admin
    response = create(client, url=url, description="Kept as typed")

    assert response.status_code == 422
    page = text_of(response)
    assert message in field_error(page, "url")
    assert f'value="{url}"' in page and 'value="Kept as typed"' in page
    assert re.search(r'<input checked [^>]*value="startup.created"', page)
    assert count(db, WebhookEndpoint) == 0


def test_an_endpoint_needs_an_event(admin, db):
    client, _me = admin
    response = create(client, events=())

    assert response.status_code == 422
    assert "Choose at least one event." in field_error(text_of(response), "events")
    assert count(db, WebhookEndpoint) == 0


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_private_addresses_are_refused_unless_an_admin_allows_them(admin, db, url):
    client, me = admin
    response = create(client, url=url)

    assert response.status_code == 422
    assert "An administrator can allow such addresses" in field_error(text_of(response), "url")
    assert count(db, WebhookEndpoint) == 0

    allow_private(client)
    assert create(client, url=url).status_code == 200
    assert the_endpoint(db).url == url


def test_the_switch_is_on_the_security_page_and_audited(admin, db):
    client, me = admin
    assert 'name="webhooks_allow_private"' in text_of(client.get("/admin/security"))

    allow_private(client)
    assert fresh(db).get(SecurityPolicy, 1).webhooks_allow_private is True
    allow_private(client, False)

    assert fresh(db).get(SecurityPolicy, 1).webhooks_allow_private is False
    assert [event.actor_user_id for event in audit_events(db, "policy.private_webhooks_allowed")
            + audit_events(db, "policy.private_webhooks_refused")] == [me.id, me.id]
    assert {"policy.private_webhooks_allowed", "policy.private_webhooks_refused"} <= set(ACTIONS)


# Editing, deleting, the secret -----------------------------------------------------------------


def test_editing_changes_the_endpoint_and_audits_the_changes(admin, db):
    client, _me = admin
    create(client)
    endpoint = the_endpoint(db)
    assert 'value="CRM sync"' in text_of(client.get(f"/admin/webhooks/{endpoint.id}/edit"))

    response = post(client, f"/admin/webhooks/{endpoint.id}/edit", {
        "url": "https://93.184.216.35/new", "description": "Data warehouse",
        "events": ["enrollment.stage_changed", "application.submitted"]})

    assert response.status_code == 302
    endpoint = reloaded(db, WebhookEndpoint, endpoint.id)
    assert (endpoint.url, endpoint.description, endpoint.events, endpoint.active) == (
        "https://93.184.216.35/new", "Data warehouse",
        ["enrollment.stage_changed", "application.submitted"], False)
    [event] = audit_events(db, "webhook.updated")
    assert event.details["changes"] == {
        "description": ["CRM sync", "Data warehouse"],
        "events": [["startup.created"], ["enrollment.stage_changed", "application.submitted"]],
        "active": [True, False],
        "url": ["https://93.184.216.34", "https://93.184.216.35"]}


def test_an_edit_to_a_private_address_is_refused_and_changes_nothing(admin, db):
    client, _me = admin
    create(client)
    endpoint = the_endpoint(db)

    response = post(client, f"/admin/webhooks/{endpoint.id}/edit", {
        "url": "http://169.254.169.254/latest", "description": "Changed", "active": "y",
        "events": ["startup.created"]})

    assert response.status_code == 422
    page = text_of(response)
    assert "internal address" in field_error(page, "url")
    assert 'value="Changed"' in page
    assert reloaded(db, WebhookEndpoint, endpoint.id).url == PUBLIC_URL
    assert audit_events(db, "webhook.updated") == []


def test_deleting_asks_first_then_removes_the_endpoint_and_its_log(admin, db):
    client, me = admin
    create(client)
    endpoint_id = the_endpoint(db).id
    assert post(client, f"/admin/webhooks/{endpoint_id}/test").status_code == 302
    page = text_of(client.get(f"/admin/webhooks/{endpoint_id}/delete"))
    assert "Delete this endpoint and its delivery log" in page

    unconfirmed = post(client, f"/admin/webhooks/{endpoint_id}/delete")
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm." in field_error(text_of(unconfirmed), "confirm")
    assert count(db, WebhookEndpoint) == 1

    confirmed = post(client, f"/admin/webhooks/{endpoint_id}/delete", {"confirm": "y"})
    assert confirmed.headers["Location"] == "/admin/webhooks/"
    assert count(db, WebhookEndpoint) == 0
    assert count(db, WebhookDelivery) == 0
    [event] = audit_events(db, "webhook.deleted")
    assert (event.actor_user_id, event.object_id) == (me.id, endpoint_id)


def test_rotating_the_secret_asks_first_and_shows_the_new_one_once(app, admin, db):
    client, _me = admin
    first = SECRET.search(text_of(create(client))).group(1)
    endpoint = the_endpoint(db)

    unconfirmed = post(client, f"/admin/webhooks/{endpoint.id}/secret")
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm." in field_error(text_of(unconfirmed), "confirm")

    response = post(client, f"/admin/webhooks/{endpoint.id}/secret", {"confirm": "y"})
    assert response.status_code == 200
    second = SECRET.search(text_of(response)).group(1)
    assert second != first
    with app.app_context():
        assert services.secret_of(reloaded(db, WebhookEndpoint, endpoint.id)) == second
    assert len(audit_events(db, "webhook.secret_rotated")) == 1


# Test events and sending again ----------------------------------------------------------------


def test_a_test_event_is_queued_for_that_endpoint_alone(admin, db):
    client, me = admin
    create(client)
    create(client, url="https://93.184.216.35/other")
    endpoint, _other = fresh(db).scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id))

    response = post(client, f"/admin/webhooks/{endpoint.id}/test")

    assert response.status_code == 302
    [delivery] = fresh(db).scalars(select(WebhookDelivery))
    assert (delivery.endpoint_id, delivery.event, delivery.status) == (
        endpoint.id, "webhook.test", OutboxStatus.PENDING)
    assert '"type":"webhook.test"' in delivery.payload
    page = text_of(client.get(f"/admin/webhooks/{endpoint.id}"))
    assert "webhook.test" in page and delivery.event_id in page
    assert [event.actor_user_id for event in audit_events(db, "webhook.test_sent")] == [me.id]


def test_an_inactive_endpoint_gets_no_test_event(admin, db):
    client, _me = admin
    create(client)
    endpoint = the_endpoint(db)
    post(client, f"/admin/webhooks/{endpoint.id}/edit", {
        "url": PUBLIC_URL, "description": "", "events": ["startup.created"]})

    post(client, f"/admin/webhooks/{endpoint.id}/test")

    assert count(db, WebhookDelivery) == 0
    assert "make it active first" in text_of(client.get(f"/admin/webhooks/{endpoint.id}"))


@pytest.mark.parametrize(("status", "resent"), [
    (OutboxStatus.FAILED, True), (OutboxStatus.DEAD, True), (OutboxStatus.SENT, False)])
def test_a_failed_or_dead_delivery_can_be_sent_again(admin, db, status, resent):
    client, me = admin
    create(client)
    endpoint = the_endpoint(db)
    delivery = WebhookDelivery(endpoint_id=endpoint.id, event="startup.created", event_id="e1",
                               dedupe_key=f"{endpoint.id}:e1", payload="{}", status=status,
                               attempts=8, last_error="HTTP 500", response_status=500)
    db.add(delivery)
    db.commit()
    page = text_of(client.get(f"/admin/webhooks/{endpoint.id}"))
    assert ("Send again" in page) is resent

    post(client, f"/admin/webhooks/{endpoint.id}/deliveries/{delivery.id}/again")

    delivery = reloaded(db, WebhookDelivery, delivery.id)
    if resent:
        assert (delivery.status, delivery.attempts, delivery.last_error) == (
            OutboxStatus.PENDING, 0, None)
        [event] = audit_events(db, "webhook.delivery_resent")
        assert (event.actor_user_id, event.details["delivery_id"]) == (me.id, delivery.id)
    else:
        assert delivery.status == OutboxStatus.SENT
        assert audit_events(db, "webhook.delivery_resent") == []


def test_a_delivery_is_sent_again_only_from_its_own_endpoint(admin, db):
    client, _me = admin
    create(client)
    create(client, url="https://93.184.216.35/other")
    endpoint, other = fresh(db).scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id))
    delivery = WebhookDelivery(endpoint_id=endpoint.id, event="startup.created", event_id="e1",
                               dedupe_key=f"{endpoint.id}:e1", payload="{}",
                               status=OutboxStatus.DEAD)
    db.add(delivery)
    db.commit()

    response = post(client, f"/admin/webhooks/{other.id}/deliveries/{delivery.id}/again")

    assert response.status_code == 404
    assert reloaded(db, WebhookDelivery, delivery.id).status == OutboxStatus.DEAD


def test_the_delivery_log_is_paged_newest_first(admin, db):
    client, _me = admin
    create(client)
    endpoint = the_endpoint(db)
    db.add_all(WebhookDelivery(endpoint_id=endpoint.id, event="startup.created",
                               event_id=f"event-{number:03}",
                               dedupe_key=f"{endpoint.id}:event-{number:03}", payload="{}")
               for number in range(60))
    db.commit()

    first = text_of(client.get(f"/admin/webhooks/{endpoint.id}"))
    ids = re.findall(r"event-(\d{3})", first)
    assert ids[0] == "059" and len(ids) == 50
    next_page = re.search(r'href="(/admin/webhooks/\d+\?before=\d+)"', first).group(1)
    rest = re.findall(r"event-(\d{3})", text_of(client.get(next_page)))
    assert rest == [f"{number:03}" for number in range(9, -1, -1)]


def test_the_admin_navigation_links_the_webhooks(admin):
    client, _me = admin
    assert 'href="/admin/webhooks/"' in text_of(client.get("/admin/users"))
