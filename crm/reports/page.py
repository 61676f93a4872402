"""The reports page's sections: their figures for a scope and period, and each as a table.

The page and its downloads read the same figures (crm.reports.figures); a download computes
only its own section.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlmodel import Session

from crm.core.enums import LEAD_SOURCE_LABELS
from crm.core.i18n import country_name
from crm.reports import figures
from crm.reports.figures import FunnelStep, NewLeads, ProgrammeStages, Scope, StageDuration
from crm.reports.periods import Period
from crm.reports.tables import Table

SECTIONS = ("funnel", "stage-times", "trend", "leads")
SHOWN_PER_BREAKDOWN = 10  # the rest are in the download
_DAY_SECONDS = 86_400


def days(seconds: int) -> float:
    return round(seconds / _DAY_SECONDS, 1)


@dataclass(frozen=True)
class ProgrammeFunnel:
    programme: ProgrammeStages
    steps: tuple[FunnelStep, ...]

    @property
    def peak(self) -> int:
        return max((step.entered for step in self.steps), default=0)


@dataclass(frozen=True)
class ProgrammeStageTimes:
    programme: ProgrammeStages
    durations: tuple[StageDuration, ...]

    @property
    def peak_seconds(self) -> int:
        return max((d.p90_seconds for d in self.durations), default=0)


@dataclass(frozen=True)
class ReportPage:
    period: Period
    funnels: tuple[ProgrammeFunnel, ...]
    stage_times: tuple[ProgrammeStageTimes, ...]  # programmes with stays only
    trend: tuple[figures.WeekCount, ...]
    leads: NewLeads

    @property
    def trend_peak(self) -> int:
        return max((max(w.new_leads, w.landings) for w in self.trend), default=0)

    @property
    def has_funnel(self) -> bool:
        return any(funnel.peak for funnel in self.funnels)


def _funnels(db, scope, period, stages) -> tuple[ProgrammeFunnel, ...]:
    steps = figures.funnel(db, scope, period, stages)
    return tuple(ProgrammeFunnel(p, tuple(s for s in steps if s.programme_id == p.programme_id))
                 for p in stages)


def _stage_times(db, scope, period, stages) -> tuple[ProgrammeStageTimes, ...]:
    durations = figures.time_in_stage(db, scope, period, stages)
    found = (ProgrammeStageTimes(p, tuple(d for d in durations
                                          if d.programme_id == p.programme_id)) for p in stages)
    return tuple(times for times in found if times.durations)


def compile_page(db: Session, scope: Scope, period: Period,
                 stages: list[ProgrammeStages]) -> ReportPage:
    """Every section's figures; `stages` are the programmes in scope (figures.programmes)."""
    return ReportPage(period, _funnels(db, scope, period, stages),
                      _stage_times(db, scope, period, stages),
                      tuple(figures.trend(db, scope, period)),
                      figures.new_leads(db, scope, period))


def funnel_table(funnels: tuple[ProgrammeFunnel, ...], locale: str) -> Table:
    return Table(_("Funnel"), [_("Programme"), _("Stage"), _("Entered"),
                               _("Entered the next stage"), _("Conversion (%)")],
                 [[f.programme.name(locale), f.programme.stage_label(step.stage, locale),
                   step.entered, step.converted,
                   None if step.rate is None else round(step.rate * 100, 1)]
                  for f in funnels for step in f.steps])


def stage_times_table(stage_times: tuple[ProgrammeStageTimes, ...], locale: str) -> Table:
    return Table(_("Time in stage"), [_("Programme"), _("Stage"), _("Stays ended"),
                                      _("Median (days)"), _("90th percentile (days)")],
                 [[t.programme.name(locale), t.programme.stage_label(d.stage, locale), d.stays,
                   days(d.median_seconds), days(d.p90_seconds)]
                  for t in stage_times for d in t.durations])


def trend_table(trend: list[figures.WeekCount]) -> Table:
    return Table(_("Trend"), [_("Week"), _("First day"), _("Last day"), _("New leads"),
                              _("Landings")],
                 [[w.week.week_name, w.week.first_day, w.week.last_day, w.new_leads, w.landings]
                  for w in trend])


def leads_table(leads: NewLeads) -> Table:
    return Table(_("New leads"), [_("Breakdown"), _("Value"), _("New leads")],
                 [[_("Total"), "", leads.total]]
                 + [[_("Country"), country_name(s.key), s.count] for s in leads.by_country]
                 + [[_("Sector"), s.key, s.count] for s in leads.by_sector]
                 + [[_("Source"), str(LEAD_SOURCE_LABELS.get(s.key, s.key)), s.count]
                    for s in leads.by_source]
                 + [[_("Event"), s.key, s.count] for s in leads.by_event])


def section_table(db: Session, section: str, scope: Scope, period: Period,
                  stages: list[ProgrammeStages], locale: str) -> Table:
    """One section's figures (only those) as a table, labels in the current language."""
    if section == "funnel":
        return funnel_table(_funnels(db, scope, period, stages), locale)
    if section == "stage-times":
        return stage_times_table(_stage_times(db, scope, period, stages), locale)
    if section == "trend":
        return trend_table(figures.trend(db, scope, period))
    if section == "leads":
        return leads_table(figures.new_leads(db, scope, period))
    raise ValueError(f"unknown section {section!r}")
