"""The weekly report's trend chart: new leads and landings per week as a small PNG."""

from __future__ import annotations

import io
from collections.abc import Sequence

from flask_babel import gettext as _
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from crm.reports.figures import WeekCount
from crm.reports.weekly import week_label

# Shown 640 px wide in the email; drawn at 1.5× so it stays sharp on high-density screens.
SIZE_INCHES = (6.4, 2.6)
DPI = 150
LEADS_COLOUR = "#2f6fb3"
LANDINGS_COLOUR = "#2e8b57"


def trend_chart_png(trend: Sequence[WeekCount]) -> bytes:
    """Bars of new leads and landings per week, labelled in the current (forced) language.

    Drawn on a Figure of its own with the Agg canvas (no pyplot: no GUI, no global state, safe
    in threads) and saved without the software version, so equal figures give equal bytes.
    """
    week_labels = [week_label(week.week) for week in trend]
    new_leads = [week.new_leads for week in trend]
    landings = [week.landings for week in trend]
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = range(len(week_labels))
    width = 0.4
    axes.bar([x - width / 2 for x in positions], new_leads, width, label=_("New leads"),
             color=LEADS_COLOUR)
    axes.bar([x + width / 2 for x in positions], landings, width, label=_("Landings"),
             color=LANDINGS_COLOUR)
    axes.set_xticks(list(positions), list(week_labels), fontsize=7)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.tick_params(axis="y", labelsize=7)
    axes.set_ylim(bottom=0, top=max([*new_leads, *landings, 1]))
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", color="#dde1e8", linewidth=0.6)
    axes.set_axisbelow(True)
    figure.legend(loc="outside upper left", fontsize=7, frameon=False, ncols=2)
    output = io.BytesIO()
    figure.savefig(output, format="png", metadata={"Software": None})
    return output.getvalue()
