"""The API's one way of writing a time: RFC 3339, UTC, `Z`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from mercato.kit.clock import rfc3339


def test_a_utc_time_is_written_with_z_and_its_microseconds() -> None:
    assert rfc3339(datetime(2026, 11, 27, 17, 5, 9, 120, tzinfo=UTC)) == "2026-11-27T17:05:09.000120Z"


def test_a_whole_second_is_written_without_a_fraction() -> None:
    assert rfc3339(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"


def test_another_offset_is_moved_to_utc() -> None:
    berlin_winter = timezone(timedelta(hours=1))
    assert rfc3339(datetime(2026, 11, 27, 0, 30, tzinfo=berlin_winter)) == "2026-11-26T23:30:00Z"


# hypothesis takes naive bounds and puts the generated times in UTC itself
_EARLIEST = datetime(1970, 1, 1)  # noqa: DTZ001
_LATEST = datetime(9998, 12, 31)  # noqa: DTZ001


@given(st.datetimes(min_value=_EARLIEST, max_value=_LATEST, timezones=st.just(UTC)))
def test_it_reads_back_as_the_same_instant(value: datetime) -> None:
    text = rfc3339(value)
    assert text.endswith("Z")
    assert datetime.fromisoformat(text) == value
