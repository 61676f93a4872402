"""Webhook delivery end to end: events queued with the change that caused them, POSTed signed to
a real HTTP receiver, retried with backoff, given up, never sent twice, never sent inside."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select
from sqlmodel import Session

from crm.core.enums import EnrollmentStatus, OutboxStatus, Role
from crm.db import get_session
from crm.outbox.delivery import DeliveryResult
from crm.startups.models import Startup
from crm.startups.profile import create_startup
from crm.users import policy
from crm.users.models import User
from crm.webhooks import events, services
from crm.webhooks.delivery import deliver_due
from crm.webhooks.models import WebhookDelivery, WebhookEndpoint
from crm.webhooks.signing import verify
from crm.workflow import engine
from crm.workflow.engine import Actor
from tests.conftest import fresh, login
from tests.factories import definition, make_programme
from tests.helpers import count, post, reloaded, start_worker, text_of
from workers.schedule import BEAT_SCHEDULE
from workers.webhooks import deliver_webhooks

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
ALL_EVENTS = list(events.EVENT_LABELS)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1: records each request, answers with the next status."""

    url: str
    requests: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # then 200

    def wait_for(self, number: int, seconds: float = 30) -> list[Received]:
        deadline = time.monotonic() + seconds
        while len(self.requests) < number and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.requests

    def events(self) -> list[dict]:
        return [json.loads(request.body) for request in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append(Received(self.path, dict(self.headers.items()), body))
            status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            if status in (301, 302, 307, 308):
                self.send_header("Location", f"{state.url}/elsewhere")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def stopped_clock(clock):
    clock(NOW)


@pytest.fixture
def admin_user(make_user) -> User:
    return make_user(Role.ADMIN)


@pytest.fixture
def hook(app, admin_user, receiver):
    """An endpoint for every event on the local receiver (private addresses allowed), and
    its secret."""
    return add_endpoint(app, admin_user, f"{receiver.url}/hook")


def add_endpoint(app, actor: User, url: str, subscribed=ALL_EVENTS, allow_private=True
                 ) -> tuple[int, str]:
    with app.app_context():
        db = get_session()
        policy.allow_private_webhooks(db, True, actor)
        endpoint, secret = services.create_endpoint(db, url=url, description="",
                                                    subscribed=subscribed, actor=actor)
        policy.allow_private_webhooks(db, allow_private, actor)
        db.commit()
        return endpoint.id, secret


def deliver(app, settings, now: datetime = NOW, **kw) -> DeliveryResult:
    with app.app_context():
        return deliver_due(get_session(), settings, now=now, **kw)


def new_startup(app, actor: User, name: str = "Bengaluru Robotics") -> int:
    with app.app_context():
        db = get_session()
        startup = create_startup(db, {"name": name, "country": "IN", "source": "event"}, actor,
                                 contact={"name": "Ananya Rao",
                                          "email": "ananya@robotics.example"},
                                 allow_duplicates=True)
        db.commit()
        return startup.id


def deliveries(db: Session) -> list[WebhookDelivery]:
    return list(fresh(db).scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


# Sent, signed, once ----------------------------------------------------------------------------


def test_a_new_startup_reaches_the_receiver_signed(app, db, settings, admin_user, hook,
                                                   receiver):
    endpoint_id, secret = hook
    startup_id = new_startup(app, admin_user)
    [queued] = deliveries(db)
    assert (queued.endpoint_id, queued.event, queued.status) == (
        endpoint_id, "startup.created", OutboxStatus.PENDING)

    assert deliver(app, settings) == DeliveryResult(sent=1)

    [request] = receiver.requests
    assert request.path == "/hook"
    assert request.body == queued.payload.encode()
    assert verify(secret, request.headers["Landing-Desk-Signature"], request.body)
    assert request.headers["Landing-Desk-Event"] == "startup.created"
    assert request.headers["Landing-Desk-Delivery"] == queued.event_id
    assert request.headers["Content-Type"] == "application/json"
    event = json.loads(request.body)
    assert set(event) == {"id", "type", "created_at", "data"}
    assert (event["id"], event["type"]) == (queued.event_id, "startup.created")
    assert event["data"] == {"id": startup_id, "name": "Bengaluru Robotics", "country": "IN",
                             "source": "event"}
    assert "ananya" not in request.body.decode().lower()  # no personal contact data
    sent = reloaded(db, WebhookDelivery, queued.id)
    assert (sent.status, sent.attempts, sent.response_status, sent.delivered_at) == (
        OutboxStatus.SENT, 1, 200, NOW)
    assert sent.response_ms is not None and sent.last_error is None

    assert deliver(app, settings) == DeliveryResult()
    assert len(receiver.requests) == 1


def test_verify_refuses_a_changed_body_another_secret_and_an_old_signature(
        app, db, settings, admin_user, hook, receiver):
    _endpoint_id, secret = hook
    new_startup(app, admin_user)
    deliver(app, settings)
    [request] = receiver.requests
    header = request.headers["Landing-Desk-Signature"]
    signed_at = int(header.split(",")[0].removeprefix("t="))

    assert verify(secret, header, request.body.decode())
    assert not verify(secret, header, request.body.replace(b"Bengaluru", b"Bangalore"))
    assert not verify("another secret", header, request.body)
    assert not verify(secret, header, request.body, now=signed_at + 301)
    assert verify(secret, header, request.body, now=signed_at + 299)
    assert not verify(secret, "v1=" + header.split("v1=")[1], request.body)
    assert not verify(secret, "", request.body)


def test_only_subscribed_active_endpoints_get_an_event(app, db, settings, admin_user, receiver):
    subscribed, _ = add_endpoint(app, admin_user, f"{receiver.url}/a", ["startup.created"])
    add_endpoint(app, admin_user, f"{receiver.url}/b", ["enrollment.closed"])
    paused, _ = add_endpoint(app, admin_user, f"{receiver.url}/c", ["startup.created"])
    with app.app_context():
        db_app = get_session()
        db_app.get(WebhookEndpoint, paused).active = False
        db_app.commit()

    new_startup(app, admin_user)

    assert [delivery.endpoint_id for delivery in deliveries(db)] == [subscribed]


def test_a_paused_endpoints_queued_events_wait_until_it_is_active(app, db, settings, admin_user,
                                                                  hook, receiver):
    endpoint_id, _ = hook
    new_startup(app, admin_user)
    with app.app_context():
        get_session().get(WebhookEndpoint, endpoint_id).active = False
        get_session().commit()

    assert deliver(app, settings) == DeliveryResult()
    assert deliveries(db)[0].status == OutboxStatus.PENDING

    with app.app_context():
        get_session().get(WebhookEndpoint, endpoint_id).active = True
        get_session().commit()
    assert deliver(app, settings) == DeliveryResult(sent=1)


def test_events_are_rolled_back_with_the_change(app, db, admin_user, hook):
    with app.app_context():
        session = get_session()
        create_startup(session, {"name": "Never Saved", "country": "IN"}, admin_user)
        assert len(session.scalars(select(WebhookDelivery)).all()) == 1
        session.rollback()

    assert deliveries(db) == []


def test_the_same_event_id_is_queued_once_per_endpoint(app, db, hook):
    event_id = str(uuid.uuid4())
    with app.app_context():
        session = get_session()
        events.emit(session, events.STARTUP_CREATED, {"id": 1}, event_id=event_id)
        events.emit(session, events.STARTUP_CREATED, {"id": 1}, event_id=event_id)
        session.commit()
        events.emit(session, events.STARTUP_CREATED, {"id": 1}, event_id=event_id)
        session.commit()

    [delivery] = deliveries(db)
    assert delivery.dedupe_key == f"{hook[0]}:{event_id}"


def test_an_event_nobody_listens_to_costs_one_query(app, count_queries):
    with app.app_context():
        session = get_session()
        with count_queries() as statements:
            events.emit(session, events.STARTUP_CREATED, {"id": 1})
        assert len(statements) == 1
        assert session.scalars(select(WebhookDelivery)).all() == []


# The workflow and the intake ---------------------------------------------------------------------


def test_a_stage_move_and_a_close_send_their_events(app, db, settings, admin_user, hook,
                                                    receiver):
    startup_id = new_startup(app, admin_user)
    with app.app_context():
        session = get_session()
        programme = make_programme(session, definition())
        actor = Actor.user(session.get(User, admin_user.id))
        startup = session.get(Startup, startup_id)
        enrollment = engine.enroll(session, startup=startup, programme=programme, actor=actor)
        session.commit()
        engine.move(session, enrollment, "intake", actor)
        session.commit()
        engine.close(session, enrollment, EnrollmentStatus.WITHDRAWN, actor, reason="No visa")
        session.commit()
        enrollment_id = enrollment.id

    assert deliver(app, settings) == DeliveryResult(sent=5)

    sent = receiver.events()
    assert [event["type"] for event in sent] == [
        "startup.created", "enrollment.stage_changed", "enrollment.stage_changed",
        "enrollment.stage_changed", "enrollment.closed"]
    enrolled, moved, closing, closed = (event["data"] for event in sent[1:])
    assert (enrolled["from_stage"], enrolled["to_stage"]) == (None, "lead")
    assert moved == {"enrollment_id": enrollment_id, "startup_id": startup_id,
                     "programme_key": "corridor", "from_stage": "lead", "to_stage": "intake",
                     "occurred_at": moved["occurred_at"], "actor_kind": "user"}
    assert datetime.fromisoformat(moved["occurred_at"]).tzinfo is not None
    assert (closing["from_stage"], closing["to_stage"]) == ("intake", "withdrawn")
    assert closed == {**closing, "outcome": "withdrawn"}
    assert "No visa" not in json.dumps(sent)


def test_a_submitted_application_sends_its_events_without_the_applicants_address(
        app, client, db, settings, make_user, admin_user, hook, receiver):
    from tests.test_intake import APPLICANT, INTAKE, fill_in, submit

    make_user(Role.BD_MANAGER, email="desk.india@desk.example", name="India Desk")
    with app.app_context():
        programme = make_programme(get_session(), definition(intake=INTAKE))
    fill_in(client, programme)
    assert submit(client, programme).status_code == 302

    deliver(app, settings)

    by_type = {event["type"]: event["data"] for event in receiver.events()}
    assert set(by_type) == {"startup.created", "enrollment.stage_changed",
                            "application.submitted"}
    submitted = by_type["application.submitted"]
    assert submitted["programme_key"] == programme.key
    assert submitted["startup_id"] == by_type["startup.created"]["id"]
    assert "bengaluru-robotics.example" not in json.dumps(receiver.events()).lower()
    assert APPLICANT not in json.dumps(receiver.events()).lower()


# Failures, retries, giving up ------------------------------------------------------------------


def test_a_server_error_is_retried_after_the_backoff_then_sent(app, db, settings, admin_user,
                                                               hook, receiver):
    receiver.answers = [500]
    new_startup(app, admin_user)

    assert deliver(app, settings) == DeliveryResult(failed=1)
    [failed] = deliveries(db)
    assert (failed.status, failed.attempts, failed.response_status, failed.last_error) == (
        OutboxStatus.FAILED, 1, 500, "HTTP 500")
    base = timedelta(seconds=settings.outbox_retry_base_seconds)
    assert NOW + base * 2 * 0.8 <= failed.next_attempt_at <= NOW + base * 2 * 1.2

    assert deliver(app, settings, now=failed.next_attempt_at - timedelta(seconds=1)) == \
        DeliveryResult()
    assert deliver(app, settings, now=failed.next_attempt_at) == DeliveryResult(sent=1)
    assert [request.body for request in receiver.requests] == [failed.payload.encode()] * 2
    sent = reloaded(db, WebhookDelivery, failed.id)
    assert (sent.status, sent.attempts, sent.response_status, sent.last_error) == (
        OutboxStatus.SENT, 2, 200, None)


def test_gone_gives_up_at_once(app, db, settings, admin_user, hook, receiver):
    receiver.answers = [410]
    new_startup(app, admin_user)

    assert deliver(app, settings) == DeliveryResult(dead=1)
    [dead] = deliveries(db)
    assert (dead.status, dead.response_status, dead.last_error) == (
        OutboxStatus.DEAD, 410, "HTTP 410 Gone")


def test_the_last_attempt_gives_up(app, db, settings, admin_user, hook, receiver):
    receiver.answers = [503]
    new_startup(app, admin_user)
    with app.app_context():
        get_session().execute(WebhookDelivery.__table__.update().values(
            attempts=settings.outbox_max_attempts - 1))
        get_session().commit()

    assert deliver(app, settings) == DeliveryResult(dead=1)
    assert deliveries(db)[0].status == OutboxStatus.DEAD


def test_redirects_are_not_followed(app, db, settings, admin_user, hook, receiver):
    receiver.answers = [302]
    new_startup(app, admin_user)

    assert deliver(app, settings) == DeliveryResult(failed=1)
    assert [request.path for request in receiver.requests] == ["/hook"]
    [delivery] = deliveries(db)
    assert (delivery.response_status, delivery.last_error) == (
        302, "HTTP 302 (redirects are not followed)")


def test_a_silent_receiver_times_out_and_is_retried(app, db, settings, admin_user,
                                                     monkeypatch):
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    add_endpoint(app, admin_user, f"http://127.0.0.1:{listener.getsockname()[1]}/hook")
    new_startup(app, admin_user)
    monkeypatch.setattr("crm.webhooks.delivery.TIMEOUT_SECONDS", 0.5)
    try:
        assert deliver(app, settings) == DeliveryResult(failed=1)
    finally:
        listener.close()
    assert deliveries(db)[0].last_error == "no answer within 0.5 s"


def test_a_lapsed_claim_is_sent_again_a_live_one_is_not(app, db, settings, admin_user, hook,
                                                        receiver):
    new_startup(app, admin_user, "Lapsed")
    new_startup(app, admin_user, "Live")
    lapsed, live = deliveries(db)
    for delivery, until in ((lapsed, NOW), (live, NOW + timedelta(minutes=5))):
        delivery.status, delivery.attempts, delivery.next_attempt_at = (
            OutboxStatus.SENDING, 1, until)
        db.add(delivery)
    db.commit()

    assert deliver(app, settings) == DeliveryResult(sent=1)

    assert [event["data"]["name"] for event in receiver.events()] == ["Lapsed"]
    assert reloaded(db, WebhookDelivery, live.id).status == OutboxStatus.SENDING


def test_concurrent_runs_send_each_event_once(app, db, settings, admin_user, hook, receiver):
    for number in range(12):
        new_startup(app, admin_user, f"Startup {number}")
    results, errors = [], []

    def run() -> None:
        try:
            results.append(deliver(app, settings, limit=2))
            while results[-1].sent:
                results.append(deliver(app, settings, limit=2))
        except Exception as error:  # the assertion below shows it
            errors.append(error)

    runners = [threading.Thread(target=run) for _ in range(3)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join(timeout=60)

    assert errors == []
    assert sum(result.sent for result in results) == 12
    names = sorted(event["data"]["name"] for event in receiver.events())
    assert names == sorted(f"Startup {number}" for number in range(12))


# Server-side request forgery -------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://10.0.0.1/hook",
                                 "http://169.254.169.254/latest/meta-data",
                                 "http://[::1]:9/hook", "http://localhost:9/hook"])
def test_an_internal_address_is_refused_at_delivery_when_not_allowed(app, db, settings,
                                                                     admin_user, url):
    """Saved while allowed (or before the name pointed inside): refused before connecting."""
    add_endpoint(app, admin_user, url, allow_private=False)
    new_startup(app, admin_user)

    assert deliver(app, settings) == DeliveryResult(dead=1)
    [delivery] = deliveries(db)
    assert delivery.last_error.startswith("refused: ")
    assert delivery.response_status is None and delivery.response_ms is None


def test_the_receiver_sees_the_host_name_while_the_checked_address_is_used(
        app, db, settings, admin_user, receiver):
    port = receiver.url.rsplit(":", 1)[1]
    _endpoint_id, secret = add_endpoint(app, admin_user, f"http://localhost:{port}/by-name")
    new_startup(app, admin_user)

    assert deliver(app, settings) == DeliveryResult(sent=1)
    [request] = receiver.requests
    assert request.headers["Host"] == f"localhost:{port}"
    assert verify(secret, request.headers["Landing-Desk-Signature"], request.body)


# The worker ------------------------------------------------------------------------------------


def test_the_task_runs_every_minute(app, db, settings, admin_user, hook, receiver):
    assert BEAT_SCHEDULE["deliver-webhooks"]["task"] == deliver_webhooks.name
    new_startup(app, admin_user)

    with app.app_context():
        deliver_webhooks.run()

    assert len(receiver.requests) == 1


def test_a_test_event_is_sent_by_a_real_worker_at_once(app, db, settings, make_user, receiver):
    """The admin's button commits the event and sends the task; a Celery worker delivers it."""
    client = app.test_client()
    admin = make_user(Role.ADMIN)
    login(client, admin.email)
    endpoint_id, secret = add_endpoint(app, admin, f"{receiver.url}/hook")
    worker = start_worker(settings)
    try:
        response = post(client, f"/admin/webhooks/{endpoint_id}/test")
        assert response.status_code == 302
        receiver.wait_for(1, seconds=60)
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    assert len(receiver.requests) == 1, f"the worker sent nothing; its log:\n{output}"
    [request] = receiver.requests
    assert request.headers["Landing-Desk-Event"] == "webhook.test"
    assert verify(secret, request.headers["Landing-Desk-Signature"], request.body)
    assert count(db, WebhookDelivery, WebhookDelivery.status == OutboxStatus.SENT) == 1
    page = text_of(client.get(f"/admin/webhooks/{endpoint_id}"))
    assert "webhook.test" in page
