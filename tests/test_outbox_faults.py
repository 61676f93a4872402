"""The fault test: 500 due emails go out through a real Celery worker, Redis and SMTP server
while the worker is killed (SIGKILL) mid-delivery and replaced, Redis restarts and the SMTP
server is down for a while. Every email arrives; copies are counted (one at most: the email the
server took in the instant before the kill; see crm/outbox/delivery.py)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from crm.core.enums import OutboxStatus
from crm.outbox.models import OutboxMessage
from tests.conftest import IN_CI, fresh
from tests.helpers import count, start_worker
from tests.test_outbox_delivery import expected_message_id
from workers.celery_app import make_celery

pytestmark = [pytest.mark.redis,
              pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]

EMAILS = 500
TICK_SECONDS = 0.3  # the test plays beat, far more often than once a minute
SMTP_DOWN_SECONDS = 3


class PrivateRedis:
    """A redis-server of this test's own, on a free port and without persistence, so that
    restarting it empties it, as a crash of a cache-only Redis would, and disturbs no one."""

    def __init__(self, folder: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.folder = folder
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        wait_until(lambda: _answers(client), 10, "the private Redis to start")
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def _answers(client: redis.Redis) -> bool:
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        if IN_CI:
            pytest.fail("redis-server is not installed: CI must run this test", pytrace=False)
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {seconds} s for {what}")
        time.sleep(0.02)


class Beat:
    """Sends the delivery task every TICK_SECONDS from a thread, as beat would; a tick that
    finds the broker gone is lost, as beat's would be."""

    def __init__(self, settings) -> None:
        self.producer = make_celery(settings)
        self.lost_ticks = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stopped.wait(TICK_SECONDS):
            try:
                self.producer.send_task("workers.outbox.deliver_outbox")
            except Exception:  # the broker is restarting: this tick is lost, the next one goes
                self.lost_ticks += 1

    def __enter__(self) -> Beat:
        self._thread.start()
        return self

    def __exit__(self, *_exc_info) -> None:
        self._stopped.set()
        self._thread.join(timeout=10)


class Worker:
    """A worker process whose log is read as it goes (a full pipe would stall it) and kept."""

    def __init__(self, settings) -> None:
        self.process = start_worker(settings)
        self.log: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.log.append(line)

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reader.join(timeout=5)


def test_every_email_arrives_through_a_killed_worker_a_redis_restart_and_an_smtp_outage(
        app, db, settings, smtp_server, private_redis):
    started = time.monotonic()
    keys = [f"fault-{number:03d}" for number in range(EMAILS)]
    db.add_all(OutboxMessage(dedupe_key=key, to_address=f"{key}@robotics.example",
                             subject=f"Email {key}", body_text=f"This is {key}.",
                             body_html=f"<p>This is {key}.</p>") for key in keys)
    db.commit()
    settings = settings.model_copy(update={
        "celery_broker_url": private_redis.url, "celery_queue": f"faults-{uuid.uuid4().hex}",
        "smtp_url": smtp_server.url, "outbox_retry_base_seconds": 0.2,
        "outbox_claim_seconds": 5})

    def received() -> int:
        return len(smtp_server.messages)

    def in_status(status: OutboxStatus) -> int:
        return count(db, OutboxMessage, OutboxMessage.status == status)

    workers = [Worker(settings)]
    try:
        with Beat(settings) as beat:
            # 1. SIGKILL in the middle of a batch, while the server has the worker waiting in
            #    the middle of an email: claimed, not yet taken by the server.
            wait_until(lambda: received() >= 50, 60, "the first worker to deliver")
            if not smtp_server.hold().wait(10):
                pytest.fail("the worker did not start another email")
            workers[0].kill()
            smtp_server.release()
            interrupted = in_status(OutboxStatus.SENDING)
            workers.append(Worker(settings))

            # 2. Redis restarts, empty, while the new worker delivers.
            wait_until(lambda: received() >= 150, 60, "the second worker to deliver")
            private_redis.restart()

            # 3. The SMTP server is down for a while: the worker keeps trying, and failing.
            wait_until(lambda: received() >= 250, 60, "delivery after Redis restarted")
            smtp_server.stop()
            time.sleep(SMTP_DOWN_SECONDS)
            failed_while_down = in_status(OutboxStatus.FAILED)
            smtp_server.start()

            wait_until(lambda: in_status(OutboxStatus.SENT) == EMAILS, 120,
                       "every email to be sent")
    finally:
        for number, worker in enumerate(workers, start=1):
            worker.stop()
            print(f"--- worker {number}'s log, last lines (pytest shows them if the test fails)")
            print("".join(worker.log[-30:]))

    arrived = Counter(email["Message-ID"] for email in smtp_server.messages)
    missing = [key for key in keys if arrived[expected_message_id(key)] == 0]
    duplicates = sum(copies - 1 for copies in arrived.values())
    attempts = fresh(db).scalar(select(func.sum(OutboxMessage.attempts)))
    print(f"\nfault test: {EMAILS} messages, {duplicates} duplicates "
          f"({interrupted} interrupted by the kill, {failed_while_down} failed while SMTP was "
          f"down, {beat.lost_ticks} ticks lost to the Redis restart, {attempts} attempts) "
          f"in {time.monotonic() - started:.1f} s")
    assert missing == []
    assert interrupted == 1, "the email being sent stays claimed until its claim lapses"
    assert failed_while_down >= 1, "the worker should have tried while SMTP was down"
    assert duplicates <= 1, arrived.most_common(3)
    assert set(arrived) == {expected_message_id(key) for key in keys}
