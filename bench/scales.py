"""How much data a benchmark scale holds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    startups: int
    enrollments: int
    stage_events: int
    activities: int
    tasks: int
    outbox_messages: int
    staff: int

    @property
    def application_drafts(self) -> int:
        """Unfinished applications: a few hundred at agency scale, enough for the sweep."""
        return max(40, self.startups // 250)


AGENCY = Scale("agency", startups=100_000, enrollments=150_000, stage_events=1_500_000,
               activities=500_000, tasks=200_000, outbox_messages=300_000, staff=50)
# A hundredth of everything except the staff.
SMALL = Scale("small", startups=1_000, enrollments=1_500, stage_events=15_000, activities=5_000,
              tasks=2_000, outbox_messages=3_000, staff=50)
SCALES: dict[str, Scale] = {scale.name: scale for scale in (AGENCY, SMALL)}
