"""The application form's steps as WTForms, with the programme's own questions added."""

from __future__ import annotations

from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    FieldList,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
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
from wtforms.widgets import CheckboxInput, ListWidget

from crm.core.enums import FUNDING_STAGE_LABELS, Language
from crm.intake.steps import (
    HELP_CHOICES,
    HIRING_CHOICES,
    OFFICE_CHOICES,
    TIMELINE_CHOICES,
    questions_of,
    sector_choices,
)
from crm.startups.profile import website_url
from crm.startups.profile_forms import (
    NUMERIC,
    PHONE_FORMAT,
    PHONE_INPUT,
    check_email,
    check_founded,
    check_phone,
    check_website,
    country_choices,
    e164,
    language_choices,
    normalised_email,
)
from crm.workflow.definitions import IntakeDefinition, QuestionDefinition, QuestionKind

DESCRIPTION_MAX = 3_000
ANSWER_MAX = 500
MAX_PEOPLE = 6
#: Fields of a step's form that are not answers.
NOT_ANSWERS = frozenset(("csrf_token", "add_person", "remove_person", "leave_empty"))
REQUIRED = _l("Please answer this question.")


def _choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


class MultiCheckboxField(SelectMultipleField):
    """Several choices as a list of checkboxes (usable without JavaScript or a mouse)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class Honeypot:
    """A field people never see or fill; a bot that fills it is answered, and nothing kept."""

    leave_empty = StringField(_l("Leave this field empty"),
                              render_kw={"autocomplete": "off", "tabindex": "-1"})

    def is_bot(self) -> bool:
        return bool((self.leave_empty.data or "").strip())


class StartForm(Honeypot, FlaskForm):
    email = StringField(_l("Your email address"),
                        validators=[DataRequired(_l("Enter your email address.")),
                                    Length(max=254), check_email],
                        render_kw={"type": "email", "autocomplete": "email"},
                        description=_l("We send you a link to continue your application on "
                                       "any device."))

    def address(self) -> str:
        return normalised_email(self.email.data)


class LinkRequestForm(StartForm):
    """Ask for a new link to one's draft (after an expired or used one); it shares the landing
    page with the start form, so its fields have names and ids of their own ("link-email")."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="link", **kwargs)


class CompanyForm(FlaskForm):
    name = StringField(_l("Company name"), validators=[DataRequired(REQUIRED), Length(max=200)],
                       render_kw={"autofocus": True, "autocomplete": "organization"})
    website = StringField(_l("Website"), validators=[Optional(), Length(max=500),
                                                     check_website],
                          description=_l("e.g. https://example.com"),
                          render_kw={"autocomplete": "url"})
    country = SelectField(_l("Country where the company is based"),
                          validators=[DataRequired(_l("Choose a country."))])
    city = StringField(_l("City"), validators=[Optional(), Length(max=120)])
    founded_year = IntegerField(_l("Founded (year)"), validators=[Optional(), check_founded],
                                render_kw=NUMERIC)
    team_size = IntegerField(_l("Team size"), validators=[
        Optional(), NumberRange(min=1, max=100_000,
                                message=_l("Enter a number of people from 1 to 100,000."))],
        render_kw=NUMERIC)
    sectors = MultiCheckboxField(_l("Sectors"), choices=[])
    funding_stage = SelectField(_l("Funding stage"), default="", choices=lambda: [
        SelectChoice("", _l("Choose…")),
        *(SelectChoice(stage.value, label) for stage, label in FUNDING_STAGE_LABELS.items())])
    description = TextAreaField(
        _l("What does your company do?"),
        validators=[DataRequired(REQUIRED), Length(max=DESCRIPTION_MAX, message=_l(
            "Please keep it to %(max)d characters.", max=DESCRIPTION_MAX))],
        description=_l("A few sentences: product, customers, why Germany."))


class PersonForm(FlaskForm):
    class Meta:
        csrf = False  # a part of the people step, whose form carries the token

    name = StringField(_l("Full name"), validators=[DataRequired(REQUIRED), Length(max=200)],
                       render_kw={"autocomplete": "name"})
    role = StringField(_l("Role"), validators=[Optional(), Length(max=120)],
                       description=_l("e.g. CEO, founder"))
    email = StringField(_l("Email"), validators=[DataRequired(_l("Enter an email address.")),
                                                 Length(max=254), check_email],
                        render_kw={"type": "email", "autocomplete": "email"})
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40), check_phone],
                        render_kw=PHONE_INPUT, description=PHONE_FORMAT)
    language = SelectField(_l("Preferred language"), choices=language_choices,
                           default=Language.EN.value)


class PeopleForm(FlaskForm):
    people = FieldList(FormField(PersonForm), min_entries=1, max_entries=MAX_PEOPLE)

    def validate_people(self, field: FieldList) -> None:
        emails = [entry.form.email.data.strip().lower() for entry in field
                  if entry.form.email.data]
        if len(emails) != len(set(emails)):
            raise ValidationError(_l("Each person needs an email address of their own."))


class PlansForm(FlaskForm):
    timeline = SelectField(_l("When do you plan to start in Germany?"),
                           validators=[DataRequired(REQUIRED)],
                           choices=[SelectChoice("", _l("Choose…")),
                                    *_choices(TIMELINE_CHOICES)])
    office_need = RadioField(_l("What space will you need?"),
                             choices=_choices(OFFICE_CHOICES), validators=[Optional()])
    hiring_plans = RadioField(_l("How many people do you plan to hire in Germany in the "
                                 "first year?"), choices=_choices(HIRING_CHOICES),
                              validators=[Optional()])
    help_needed = MultiCheckboxField(_l("Where would you like our help?"),
                                     choices=_choices(HELP_CHOICES))
    notes = TextAreaField(_l("Anything else we should know?"), validators=[
        Optional(), Length(max=DESCRIPTION_MAX, message=_l(
            "Please keep it to %(max)d characters.", max=DESCRIPTION_MAX))])


class UploadForm(FlaskForm):
    kind = HiddenField()
    file = FileField(_l("File"))


class ConsentForm(Honeypot, FlaskForm):
    consent = BooleanField(validators=[DataRequired(
        _l("Please agree to how we use your data, or withdraw the application."))])


STEP_FORMS: dict[str, type[FlaskForm]] = {
    "company": CompanyForm, "people": PeopleForm, "plans": PlansForm,
}


# The programme's questions ----------------------------------------------------------------


def question_name(question: QuestionDefinition) -> str:
    """The form field of a programme question (its own prefix: no clash with built-ins)."""
    return f"q_{question.key}"


def _question_field(question: QuestionDefinition, locale: str):
    label = question.label(locale)
    hint = question.hint(locale) if question.hint else ""
    presence = DataRequired(REQUIRED) if question.required else Optional()
    if question.kind == QuestionKind.CHOICE:
        choices = [SelectChoice("", _l("Choose…")),
                   *(SelectChoice(choice.value, choice.label(locale))
                     for choice in question.choices)]
        return SelectField(label, choices=choices, description=hint,
                           validators=[InputRequired(REQUIRED) if question.required
                                       else Optional()])
    if question.kind == QuestionKind.YES_NO:
        return RadioField(label, choices=_choices((("yes", _l("Yes")), ("no", _l("No")))),
                          description=hint, validators=[presence])
    field = TextAreaField if question.kind == QuestionKind.LONG_TEXT else StringField
    most = DESCRIPTION_MAX if question.kind == QuestionKind.LONG_TEXT else ANSWER_MAX
    return field(label, description=hint, validators=[presence, Length(max=most, message=_l(
        "Please keep it to %(max)d characters.", max=most))])


def step_form(step: str, intake: IntakeDefinition, focus_sectors: list[str],
              **kwargs: Any) -> FlaskForm:
    """The step's form for this programme: its own questions added, dropped ones removed."""
    locale = str(get_locale() or Language.EN.value)
    base = STEP_FORMS[step]
    extra = {question_name(question): _question_field(question, locale)
             for question in questions_of(intake, step)}
    form = (type(base.__name__, (base,), extra) if extra else base)(**kwargs)
    for name in intake.drop:
        if name in form:
            del form[name]
    if step == "company":
        form.country.choices = country_choices()
        form.sectors.choices = _choices(sector_choices(focus_sectors))
    return form


# Answers ----------------------------------------------------------------------------------


def answers_of(step: str, form: FlaskForm) -> dict[str, Any]:
    """A valid step's answers as stored: stripped text, normalised website, e-mail and phone
    (the people step's persons, and the programme's own questions asked there, too)."""
    answers: dict[str, Any] = {}
    for name, field in form._fields.items():
        if name in NOT_ANSWERS:
            continue
        if step == "people" and name == "people":
            answers[name] = [_person(entry.form) for entry in form.people]
            continue
        value = field.data
        answers[name] = value.strip() if isinstance(value, str) else value
    if "website" in answers:
        answers["website"] = website_url(answers["website"])
    return answers


def _person(form: PersonForm) -> dict[str, Any]:
    return {"name": form.name.data.strip(), "role": (form.role.data or "").strip(),
            "email": normalised_email(form.email.data), "phone": e164(form.phone.data),
            "language": form.language.data}

