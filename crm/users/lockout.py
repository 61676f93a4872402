"""Failed sign-ins slow an account down, then lock it: 5 failures lock it for a minute, each
further failure doubles that, and the 10th locks it until its password is reset or an admin
unlocks it. The per-address rate limit on the login form stops guessing across accounts."""

from __future__ import annotations

from datetime import datetime, timedelta

from crm.users.models import User

FREE_ATTEMPTS = 4
FIRST_LOCK = timedelta(minutes=1)
HARD_LOCK_AFTER = 10


def is_hard_locked(user: User) -> bool:
    return user.failed_logins >= HARD_LOCK_AFTER


def locked(user: User, now: datetime) -> bool:
    return is_hard_locked(user) or (user.locked_until is not None and user.locked_until > now)


def register_failure(user: User, now: datetime) -> None:
    user.failed_logins += 1
    beyond = user.failed_logins - FREE_ATTEMPTS
    if beyond > 0 and not is_hard_locked(user):
        user.locked_until = now + FIRST_LOCK * 2 ** (beyond - 1)


def clear(user: User) -> None:
    user.failed_logins = 0
    user.locked_until = None
