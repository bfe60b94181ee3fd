"""How pages word deadlines, sizes and flags."""

from web.filters import deadline, display, file_size


def test_a_deadline_at_midnight_is_24_00_of_its_last_day():
    assert deadline("2026-04-03T00:00:00+08:00") == "2026-04-02 24:00"
    assert deadline("2026-04-02T16:00:00+00:00") == "2026-04-02 24:00"  # the same instant, stored in UTC
    assert deadline("2026-04-03T09:30:00+08:00") == "2026-04-03 09:30"
    assert deadline(None) == ""


def test_sizes_and_flags():
    assert file_size(12) == "12 字节" and file_size(2048) == "2.0 KB" and file_size(3 * 1024 * 1024) == "3.0 MB"
    assert display(True) == "是" and display(False) == "否" and display(["a", "b"]) == "a、b" and display(None) == ""
