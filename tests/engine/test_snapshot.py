"""Database.snapshot: the reads of a page share one transaction, and a write ends the shared view."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from engine.store.models import Department


def _add(database, code: str) -> None:
    with database.write() as session:
        session.add(Department(code=code, name=code))


def _codes(database) -> set[str]:
    with database.read() as session:
        return set(session.scalars(sa.select(Department.code)))


def test_reads_inside_share_one_session_and_reads_outside_do_not(database):
    with database.snapshot():
        with database.read() as first:
            pass
        with database.read() as second:
            assert second is first
        with database.snapshot(), database.read() as third:  # nested: still the same view
            assert third is first
    with database.read() as outside, database.read() as other:
        assert outside is not other


def test_the_shared_view_does_not_see_other_writers_but_sees_its_own_thread_write(database):
    _add(database, "a")
    with database.snapshot():
        assert _codes(database) == {"a"}
        # Another thread writes; on SQLite the open read transaction keeps its view (PostgreSQL's read
        # committed statements may see it: only the own-thread rule below is the same on both).
        writer = threading.Thread(target=_add, args=(database, "b"))
        writer.start()
        writer.join()
        if database.is_sqlite:
            assert _codes(database) == {"a"}
        _add(database, "c")  # this thread's write ends the shared view
        assert _codes(database) == {"a", "b", "c"}


def test_a_failed_read_does_not_spoil_the_reads_after_it(database):
    _add(database, "a")
    with database.snapshot():
        with pytest.raises(sa.exc.DBAPIError), database.read() as session:
            session.execute(sa.text("SELECT * FROM no_such_table"))
        assert _codes(database) == {"a"}


def test_a_write_inside_a_read_leaves_that_read_its_session_and_the_next_read_sees_it(database):
    _add(database, "a")
    with database.snapshot():
        with database.read() as session:
            _add(database, "b")
            assert session.scalar(sa.select(sa.func.count()).select_from(Department)) >= 1  # still usable
        assert not session.in_transaction()  # closed once its read ended: no connection left checked out
        with database.read() as after:
            assert after is not session
        assert _codes(database) == {"a", "b"}
