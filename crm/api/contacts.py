"""/api/v1 contacts: a startup's contact persons listed and added; one contact read, changed
(versioned) and removed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from flask import Response, url_for
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import select

from crm.api.blueprint import actor, api, tag
from crm.api.common import (
    ListQuery,
    Precondition,
    Strict,
    id_page,
    json_response,
    page_response,
    read_responses,
    write_responses,
)
from crm.api.guards import editable, restricted
from crm.api.startups import StartupPath
from crm.core.enums import Language
from crm.db import get_or_404, get_session
from crm.startups import profile
from crm.startups.models import Contact, Startup
from crm.startups.profile import StaleRecord
from crm.startups.profile_forms import e164, normalised_email

TAGS = tag("Contacts", "A startup's contact persons.")
CURSOR_KIND = "contacts"

# As the contact form checks them: an address email-validator accepts (kept lower-cased), a
# phone number phonenumbers reads (kept in E.164); empty is none.
Email = Annotated[str | None, Field(max_length=254), AfterValidator(normalised_email)]
Phone = Annotated[str | None, Field(max_length=40), AfterValidator(e164)]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
ContactRole = Annotated[str | None, Field(max_length=120, description="e.g. CEO, founder")]


class ContactOut(BaseModel):
    id: int
    startup_id: int
    name: str
    email: str | None
    phone: str | None = Field(description="E.164, e.g. +492111234567.")
    role: str | None
    language: Language = Field(description="The language emails to this person are written in.")
    consent_given_at: datetime | None
    restricted: bool = Field(description="Processing restricted (GDPR Art. 18): no changes.")
    version: int = Field(description="Send it back (or the ETag as If-Match) to change.")
    created_at: datetime
    updated_at: datetime


class ContactPage(BaseModel):
    items: list[ContactOut]
    next_cursor: str | None


class ContactCreate(Strict):
    name: Name
    email: Email = None
    phone: Phone = None
    role: ContactRole = None
    language: Language | None = Field(default=None, description="Default: the caller's language.")


class ContactChange(Strict):
    """Only the fields sent change (null empties email, phone or role, and only these);
    `version` or If-Match says which version they change."""

    name: Name = None  # absent: unchanged; null is refused (as for language)
    email: Email = None
    phone: Phone = None
    role: ContactRole = None
    language: Language = None
    version: int | None = Field(default=None, ge=1)


class ContactPath(BaseModel):
    contact_id: int = Field(ge=1, le=2**31 - 1)


def contact_out(contact: Contact) -> ContactOut:
    return ContactOut(id=contact.id, startup_id=contact.startup_id, name=contact.name,
                      email=contact.email, phone=contact.phone, role=contact.role,
                      language=contact.language, consent_given_at=contact.consent_given_at,
                      restricted=contact.restricted_at is not None, version=contact.version,
                      created_at=contact.created_at, updated_at=contact.updated_at)


def _changeable(contact_id: int) -> tuple[Startup, Contact]:
    """The contact and its startup, if the caller may change them now (409 if restricted)."""
    contact = get_or_404(Contact, contact_id)
    startup = editable(get_session().get(Startup, contact.startup_id))
    if contact.restricted_at is not None:
        raise restricted("contact")
    return startup, contact


@api.get("/startups/<int:startup_id>/contacts", tags=TAGS, summary="A startup's contacts",
         description="Oldest first.", responses=read_responses(ContactPage))
def list_contacts(path: StartupPath, query: ListQuery):
    startup = get_or_404(Startup, path.startup_id)
    page, next_cursor = id_page(select(Contact).where(Contact.startup_id == startup.id),
                                Contact.id, CURSOR_KIND, query)
    return page_response(ContactPage(items=[contact_out(contact) for contact, in page],
                                     next_cursor=next_cursor), next_cursor)


@api.post("/startups/<int:startup_id>/contacts", tags=TAGS, summary="Add a contact",
          responses=write_responses(201, ContactOut))
def create_contact(path: StartupPath, body: ContactCreate):
    startup = editable(get_or_404(Startup, path.startup_id))
    values = body.model_dump()
    values["language"] = body.language or actor().locale
    contact = profile.add_contact(get_session(), startup, values, actor())
    return json_response(contact_out(contact), 201, version=contact.version,
                         location=url_for("api.show_contact", contact_id=contact.id))


@api.get("/contacts/<int:contact_id>", tags=TAGS, summary="One contact",
         responses=read_responses(ContactOut))
def show_contact(path: ContactPath):
    contact = get_or_404(Contact, path.contact_id)
    return json_response(contact_out(contact), version=contact.version)


@api.patch("/contacts/<int:contact_id>", tags=TAGS, summary="Change a contact",
           responses=write_responses(200, ContactOut, 412, 428))
def change_contact(path: ContactPath, body: ContactChange):
    startup, contact = _changeable(path.contact_id)
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    precondition = Precondition(body.version)
    try:
        profile.update_contact(get_session(), startup, contact, changes, precondition.version,
                               actor())
    except StaleRecord as stale:
        raise precondition.stale(stale.version) from None
    return json_response(contact_out(contact), version=contact.version)


@api.delete("/contacts/<int:contact_id>", tags=TAGS, summary="Remove a contact",
            description="Send the contact's ETag as If-Match: a contact changed since is not "
                        "removed (412).",
            responses=write_responses(204, None, 412, 428))
def delete_contact(path: ContactPath):
    startup, contact = _changeable(path.contact_id)
    precondition = Precondition(None)
    try:
        profile.remove_contact(get_session(), startup, contact, precondition.version, actor())
    except StaleRecord as stale:
        raise precondition.stale(stale.version) from None
    return Response(status=204)
