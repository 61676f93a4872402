"""Forms for a startup's profile (new and edit) and its contacts, with their field checks."""

from __future__ import annotations

from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Field,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from crm.core.clock import utcnow
from crm.core.enums import FUNDING_STAGE_LABELS, LANGUAGE_LABELS, LEAD_SOURCE_LABELS, Language
from crm.startups.profile import LABEL_MAX, LABELS_PER_STARTUP, split_labels
from crm.startups.search import fold
from crm.users.models import User

PHONE_HINT = _l("Enter the number in international format, e.g. +49 211 1234567")
PHONE_FORMAT = _l("International format, e.g. +49 211 1234567")
EMAIL_HINT = _l("Enter a valid email address, e.g. name@example.com")
#: Babel territories that are not countries (ISO 3166-1) or are pseudo-regions.
NOT_COUNTRIES = frozenset(("AC", "CP", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA",
                           "XB", "ZZ"))
DESCRIPTION_MAX = 10_000
EARLIEST_FOUNDED = 1800
#: Whole numbers typed as text (with the numeric keyboard on phones), styled like other inputs.
NUMERIC = {"type": "text", "inputmode": "numeric"}
PHONE_INPUT = {"type": "text", "inputmode": "tel", "autocomplete": "off"}


# Checks and normalisation shared by the forms and the views ----------------------------------


def e164(value: str | None, region: str | None = None) -> str | None:
    """The phone number in E.164 ("+492111234567"), None if empty; ValueError if not a number.

    Without a leading + (or 00) the number is read as one of `region` (a country code), if given.
    """
    text = (value or "").strip()
    if not text:
        return None
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException as error:
        raise ValueError(str(error)) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalised_email(value: str | None) -> str | None:
    """The address checked by email-validator, lower-cased as the duplicate matcher compares it;
    None if empty."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise ValueError(str(error)) from None


def check_phone(_form, field: Field) -> None:
    try:
        e164(field.data)
    except ValueError:
        raise ValidationError(PHONE_HINT) from None


def check_email(_form, field: Field) -> None:
    try:
        normalised_email(field.data)
    except ValueError:
        raise ValidationError(EMAIL_HINT) from None


def check_website(_form, field: Field) -> None:
    text = (field.data or "").strip()
    if not text:
        return
    scheme, _sep, rest = text.partition("://") if "://" in text else ("https", "", text)
    host = rest.split("/", 1)[0].split(":", 1)[0]
    if (scheme.lower() not in ("http", "https") or "." not in host or " " in text
            or host.startswith(".") or host.endswith(".")):
        raise ValidationError(_l("Enter a web address, e.g. https://example.com"))


def _check_labels(_form, field: Field) -> None:
    labels = split_labels(field.data)
    if any(len(label) > LABEL_MAX for label in labels):
        raise ValidationError(_l("Each entry may have at most %(max)d characters.",
                                 max=LABEL_MAX))
    if len(labels) > LABELS_PER_STARTUP:
        raise ValidationError(_l("At most %(max)d entries.", max=LABELS_PER_STARTUP))


def check_founded(_form, field: Field) -> None:
    if field.data is not None and not EARLIEST_FOUNDED <= field.data <= utcnow().year:
        raise ValidationError(_l("Enter a year between %(first)d and %(last)d.",
                                 first=EARLIEST_FOUNDED, last=utcnow().year))


def _owner_id(value: Any) -> int | None:
    return int(value) if value not in (None, "", "None") else None


def country_choices(keep: str | None = None) -> list[SelectChoice]:
    """Every country by its name in the user's language, sorted; `keep` stays even if unknown."""
    territories = get_locale().territories
    countries = {code: name for code, name in territories.items()
                 if len(code) == 2 and code.isalpha() and code not in NOT_COUNTRIES}
    if keep and keep not in countries:
        countries[keep] = keep
    ordered = sorted(countries.items(), key=lambda item: fold(item[1]))
    return [SelectChoice("", _l("Choose a country")),
            *(SelectChoice(code, name) for code, name in ordered)]


def language_choices() -> list[SelectChoice]:
    return [SelectChoice(language.value, label) for language, label in LANGUAGE_LABELS.items()]


# Forms ----------------------------------------------------------------------------------------


class VersionChecked:
    """A form that posts back the version of the record as it was shown, to refuse stale saves."""

    version = HiddenField()

    def expected_version(self) -> int | None:
        try:
            return int(self.version.data)
        except (TypeError, ValueError):
            return None


class StartupProfileForm(FlaskForm):
    """The editable profile; `country` and `owner` choices are set by the view."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)],
                       render_kw={"autofocus": True})
    website = StringField(_l("Website"), validators=[Optional(), Length(max=500), check_website],
                          description=_l("e.g. https://example.com"))
    country = SelectField(_l("Country"), validators=[DataRequired(_l("Choose a country."))])
    city = StringField(_l("City"), validators=[Optional(), Length(max=120)])
    founded_year = IntegerField(_l("Founded (year)"), validators=[Optional(), check_founded],
                                render_kw=NUMERIC)
    team_size = IntegerField(_l("Team size"),
                             validators=[Optional(), NumberRange(min=1, max=1_000_000)],
                             render_kw=NUMERIC)
    funding_stage = SelectField(_l("Funding stage"), default="", choices=lambda: [
        SelectChoice("", _l("Not known")),
        *(SelectChoice(stage.value, label) for stage, label in FUNDING_STAGE_LABELS.items())])
    description = TextAreaField(_l("Description"),
                                validators=[Optional(), Length(max=DESCRIPTION_MAX)])
    sectors = StringField(_l("Sectors"), validators=[_check_labels],
                          description=_l("Separate several with commas."))
    tags = StringField(_l("Tags"), validators=[_check_labels],
                       description=_l("Separate several with commas."))
    source = SelectField(_l("Source"), default="other", choices=lambda: [
        SelectChoice(source.value, label) for source, label in LEAD_SOURCE_LABELS.items()])
    source_detail = StringField(_l("Event or detail"),
                                validators=[Optional(), Length(max=200)],
                                description=_l("e.g. the trade fair where you met"))
    owner = SelectField(_l("Owner"), coerce=_owner_id, validate_choice=True)

    def set_choices(self, owners: list[User | None], country: str | None = None) -> None:
        self.country.choices = country_choices(keep=country)
        self.owner.choices = [SelectChoice("", _l("Unassigned")) if user is None
                              else SelectChoice(user.id, user.name) for user in owners]

    def profile_values(self) -> dict[str, Any]:
        """What was typed, as the profile service takes it."""
        return {
            "name": self.name.data, "website": self.website.data,
            "country": self.country.data, "city": self.city.data,
            "founded_year": self.founded_year.data, "team_size": self.team_size.data,
            "funding_stage": self.funding_stage.data or None,
            "description": self.description.data or "",
            "sectors": self.sectors.data, "tags": self.tags.data,
            "source": self.source.data, "source_detail": self.source_detail.data,
            "owner_id": self.owner.data,
        }

    @staticmethod
    def data_from(values: dict[str, Any]) -> dict[str, Any]:
        """Form data from stored profile values (sectors and tags comma-separated)."""
        data = {name: value for name, value in values.items() if name != "owner_id"}
        data.update(sectors=", ".join(values.get("sectors") or []),
                    tags=", ".join(values.get("tags") or []),
                    funding_stage=values.get("funding_stage") or "",
                    owner=values.get("owner_id"))
        return data


class StartupEditForm(VersionChecked, StartupProfileForm):
    pass


class NewStartupForm(StartupProfileForm):
    contact_name = StringField(_l("Contact name"), validators=[Length(max=200)])
    contact_email = StringField(_l("Contact email"),
                                validators=[Optional(), Length(max=254), check_email],
                                render_kw={"type": "email", "autocomplete": "off"})
    contact_phone = StringField(_l("Contact phone"),
                                validators=[Optional(), Length(max=40), check_phone],
                                render_kw=PHONE_INPUT, description=PHONE_FORMAT)
    contact_role = StringField(_l("Contact role"), validators=[Optional(), Length(max=120)],
                               description=_l("e.g. CEO, founder"))
    contact_language = SelectField(_l("Contact language"), choices=language_choices,
                                   default=Language.EN.value)
    create_anyway = BooleanField(_l("I checked these: create a new startup anyway"))

    def validate_contact_name(self, field: Field) -> None:
        others = (self.contact_email.data, self.contact_phone.data, self.contact_role.data)
        if not (field.data or "").strip() and any((value or "").strip() for value in others):
            raise ValidationError(_l("Enter the contact's name (or leave the contact empty)."))

    def contact_values(self) -> dict[str, Any] | None:
        """The first contact as the service takes it; None if no contact was entered."""
        if not (self.contact_name.data or "").strip():
            return None
        return {"name": self.contact_name.data, "email": normalised_email(self.contact_email.data),
                "phone": e164(self.contact_phone.data), "role": self.contact_role.data,
                "language": self.contact_language.data}


class ContactForm(VersionChecked, FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = StringField(_l("Email"), validators=[Optional(), Length(max=254), check_email],
                        render_kw={"type": "email", "autocomplete": "off"})
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40), check_phone],
                        render_kw=PHONE_INPUT, description=PHONE_FORMAT)
    role = StringField(_l("Role"), validators=[Optional(), Length(max=120)],
                       description=_l("e.g. CEO, founder"))
    language = SelectField(_l("Language"), choices=language_choices,
                           validators=[InputRequired()], default=Language.EN.value,
                           description=_l("The language emails to this person are written in."))

    def contact_values(self) -> dict[str, Any]:
        return {"name": self.name.data, "email": normalised_email(self.email.data),
                "phone": e164(self.phone.data), "role": self.role.data,
                "language": self.language.data}


class RemoveContactForm(VersionChecked, FlaskForm):
    """The confirmation step: the contact's version as it was shown."""
