"""The reports page's filters: a programme, and the last weeks or a date range (a GET form)."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField
from wtforms.validators import Optional

from crm.reports.figures import ProgrammeStages
from crm.reports.periods import Period, last_weeks, week_of

WEEK_CHOICES = [SelectChoice("4", _l("Last 4 weeks")), SelectChoice("12", _l("Last 12 weeks")),
                SelectChoice("26", _l("Last 26 weeks"))]
DEFAULT_WEEKS = "12"
MAX_RANGE_DAYS = 366  # a year of weeks in the trend at most
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)


class ReportFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form: the choice is in the address, nothing changes

    programme = SelectField(_l("Programme"), default="")
    weeks = SelectField(_l("Period"), choices=WEEK_CHOICES, default=DEFAULT_WEEKS)
    start = DateField(_l("From"), validators=[Optional()],
                      description=_l("Dates, when given, take the place of the weeks."))
    end = DateField(_l("To"), validators=[Optional()])

    def offer(self, programmes: list[ProgrammeStages], locale: str) -> None:
        self.programme.choices = [SelectChoice("", _l("All programmes"))] + [
            SelectChoice(programme.key, programme.name(locale)) for programme in programmes]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        start, end = self.start.data, self.end.data
        if self.start.errors or self.end.errors or (start is None and end is None):
            return valid
        for field in (self.start, self.end):
            if field.data is None:
                field.errors.append(_l("Give both dates, or neither."))
            elif not EARLIEST <= field.data <= LATEST:
                field.errors.append(_l("Choose a date between %(first)s and %(last)s.",
                                       first=EARLIEST.year, last=LATEST.year))
        if self.start.errors or self.end.errors:
            return False
        if end < start:
            self.end.errors.append(_l("The end comes before the start."))
        elif (end - start).days + 1 > MAX_RANGE_DAYS:
            self.end.errors.append(_l("Choose at most %(days)d days.", days=MAX_RANGE_DAYS))
        return valid and not self.end.errors

    def period(self, now: datetime, tz_name: str) -> Period:
        """The dates given, else the chosen number of ISO weeks up to today (this week so far)."""
        if self.start.data and self.end.data:
            return Period.of_days(self.start.data, self.end.data, tz_name)
        weeks = last_weeks(week_of(now, tz_name), int(self.weeks.data))
        today = now.astimezone(weeks.zone).date()
        return Period.of_days(weeks.first_day, today, tz_name)

    def chosen_programme(self, programmes: list[ProgrammeStages]) -> ProgrammeStages | None:
        return next((p for p in programmes if p.key == self.programme.data), None)

    def query(self) -> dict[str, str]:
        """The filters as URL parameters (for the download links), empty ones left out."""
        values = {"programme": self.programme.data, "weeks": self.weeks.data,
                  "start": self.start.data and self.start.data.isoformat(),
                  "end": self.end.data and self.end.data.isoformat()}
        return {key: value for key, value in values.items() if value}
