"""Moments the API takes: ISO 8601 with a UTC offset (a naive time is refused), kept in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

EARLIEST, LATEST = 1900, 2200  # beyond these a moment is a typing error, not a date


def _in_utc(moment: datetime) -> datetime:
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("the moment is out of range") from None
    if not EARLIEST <= moment.year < LATEST:
        raise ValueError(f"the moment must lie between {EARLIEST} and {LATEST}")
    return moment


Moment = Annotated[AwareDatetime, AfterValidator(_in_utc)]
