"""UTC timestamps on SQLite: written and read in SQLAlchemy's own text format, so databases
written before the fast path read the same, and order by text as they do by time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from storage.tables import UTCDateTime

DIALECT = sqlite.dialect()
BIND = UTCDateTime().bind_processor(DIALECT)
READ = UTCDateTime().result_processor(DIALECT, None)
_stock_bind = sa.DateTime().dialect_impl(DIALECT).bind_processor(DIALECT)
_stock_read = sa.DateTime().dialect_impl(DIALECT).result_processor(DIALECT, None)
assert _stock_bind is not None
assert _stock_read is not None
STOCK_BIND, STOCK_READ = _stock_bind, _stock_read

MOMENTS = [
    datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
    datetime(2026, 11, 27, 10, 0, 0, 1, tzinfo=UTC),
    datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=2))),
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_same_text_as_sqlalchemy_and_back(moment: datetime) -> None:
    text = BIND(moment)
    assert text == STOCK_BIND(moment.astimezone(UTC).replace(tzinfo=None))
    assert READ(text) == moment
    assert READ(text).tzinfo is UTC
    stock = STOCK_READ(text)
    assert stock is not None
    assert stock.replace(tzinfo=UTC) == moment


def test_text_order_is_time_order() -> None:
    ordered = sorted(MOMENTS)
    assert sorted(BIND(m) for m in MOMENTS) == [BIND(m) for m in ordered]


def test_naive_and_none() -> None:
    assert BIND(None) is None
    assert READ(None) is None
    with pytest.raises(ValueError, match="naive"):
        BIND(datetime(2026, 1, 1))  # noqa: DTZ001
