"""Staff account operations: they change state, flush and audit; callers commit."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlmodel import Session

from crm.core import audit
from crm.core.clock import utcnow
from crm.core.enums import Language, ReminderDelivery, Role
from crm.core.tokens import hash_token, new_token
from crm.outbox.services import queue_email
from crm.users import lockout
from crm.users.models import Invitation, StaffSession, User
from crm.users.passwords import hash_password

INVITATION_VALIDITY = timedelta(days=7)


class AccountError(ValueError):
    """A refused account change; `field` names the form field it belongs to, if any."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message = message
        self.field = field


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_by_email(db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(User.email == normalize_email(email)))


def create_user(
    db: Session,
    *,
    email: str,
    name: str,
    role: Role,
    password: str | None = None,
    locale: Language = Language.EN,
    actor: User | None = None,
) -> User:
    if find_by_email(db, email) is not None:
        raise AccountError(_l("A user with this email address exists already."), "email")
    user = User(
        email=normalize_email(email),
        name=name.strip(),
        role=role,
        locale=locale,
        password_hash=hash_password(password) if password else None,
    )
    db.add(user)
    db.flush()
    audit.record(
        db, "user.created", actor_user_id=actor.id if actor else None,
        object_type="user", object_id=user.id, role=role.value,
    )
    return user


def record_logout(db: Session, user: User, ip_address: str | None) -> None:
    audit.record(db, "auth.logout", actor_user_id=user.id, object_type="user",
                 object_id=user.id, ip_address=ip_address)


def invite_user(
    db: Session, *, email: str, name: str, role: Role, locale: Language, actor: User,
    base_url: str,
) -> tuple[User, str]:
    """Create an account without a password and queue an email with a set-password link."""
    user = create_user(db, email=email, name=name, role=role, locale=locale, actor=actor)
    token, token_hash = new_token()
    invitation = Invitation(
        user_id=user.id, token_hash=token_hash, expires_at=utcnow() + INVITATION_VALIDITY,
        invited_by_id=actor.id,
    )
    db.add(invitation)
    db.flush()
    link = f"{base_url}/invitation/{token}"
    queue_email(
        db, dedupe_key=f"invitation:{invitation.id}", to_address=user.email, locale=locale,
        template="invitation", context={"user": user, "inviter": actor, "link": link,
                                        "expires_at": invitation.expires_at},
        user_id=user.id,
    )
    audit.record(db, "user.invited", actor_user_id=actor.id, object_type="user",
                 object_id=user.id)
    return user, link


def open_invitation(db: Session, token: str) -> Invitation | None:
    """The unexpired, unused invitation for this token, or None."""
    invitation = db.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))
    if invitation is None or invitation.accepted_at or invitation.expires_at <= utcnow():
        return None
    return invitation


def accept_invitation(
    db: Session, invitation: Invitation, password: str, ip_address: str | None = None
) -> User:
    """Set the password; the caller logs the user in, so this is audited as a login too."""
    user = db.get(User, invitation.user_id)
    if user is None or not user.is_active:
        raise AccountError(_l("This account has been deactivated."))
    set_password(db, user, password)
    user.last_login_at = invitation.accepted_at = utcnow()
    audit.record(db, "user.invitation_accepted", actor_user_id=user.id, object_type="user",
                 object_id=user.id)
    audit.record(db, "auth.login", actor_user_id=user.id, object_type="user",
                 object_id=user.id, ip_address=ip_address)
    return user


def end_sessions(db: Session, user: User) -> None:
    """Every session the user has ends: their rows are closed, and the bumped version stops
    any signed cookie still around (a caller keeping one browser signed in renews it)."""
    user.session_version += 1
    db.execute(update(StaffSession)
               .where(StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
               .values(ended_at=utcnow()))


def set_password(db: Session, user: User, password: str) -> None:
    """A new password ends every session the user has and lifts any lock on the account."""
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    end_sessions(db, user)
    lockout.clear(user)


def _count_active_admins(db: Session) -> int:
    """Locks the active admins' rows, so two admins demoting each other at once cannot both
    pass the check (PostgreSQL re-reads the locked rows once the other commits)."""
    admins = select(User.id).where(User.role == Role.ADMIN, User.is_active).with_for_update()
    return len(db.scalars(admins).all())


def _guard_last_admin(db: Session, user: User) -> None:
    if user.role == Role.ADMIN and user.is_active and _count_active_admins(db) <= 1:
        raise AccountError(_l("The last active administrator cannot lose that role."))


def change_role(db: Session, user: User, role: Role, actor: User) -> None:
    if user.role == role:
        return
    if role != Role.ADMIN:
        _guard_last_admin(db, user)
    before = user.role
    user.role = role
    end_sessions(db, user)
    audit.record(db, "user.role_changed", actor_user_id=actor.id, object_type="user",
                 object_id=user.id, before=str(before), after=role.value)


def set_active(db: Session, user: User, active: bool, actor: User) -> None:
    """Activate or deactivate; deactivation ends every session the user has."""
    if user.is_active == active:
        return
    if not active:
        if user.id == actor.id:
            raise AccountError(_l("You cannot deactivate your own account."))
        _guard_last_admin(db, user)
    user.is_active = active
    end_sessions(db, user)
    audit.record(db, "user.activated" if active else "user.deactivated",
                 actor_user_id=actor.id, object_type="user", object_id=user.id)


def set_locale(user: User, locale: Language) -> None:
    user.locale = locale


def save_preferences(db: Session, user: User, *, locale: Language,
                     reminder_delivery: ReminderDelivery, weekly_report: bool) -> None:
    """The user's language, how reminders reach them and whether they get the weekly report;
    audited with what changed (nothing changed: no event)."""
    wanted = {"locale": locale, "reminder_delivery": reminder_delivery,
              "weekly_report": weekly_report}
    changes = {name: [getattr(user, name), value] for name, value in wanted.items()
               if getattr(user, name) != value}
    if not changes:
        return
    for name, value in wanted.items():
        setattr(user, name, value)
    audit.record(db, "user.preferences_changed", actor_user_id=user.id, object_type="user",
                 object_id=user.id, changes=changes)
