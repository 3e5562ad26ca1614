"""GStreamer's debug log reaches Python's logging, switchable at run time."""

from __future__ import annotations

import logging
import re

import framepipe as fp
import pytest


@pytest.fixture
def gst_log():
    yield fp.set_gst_log_level
    fp.set_gst_log_level(None)


def run_testsrc() -> None:
    fp.Pipeline("videotestsrc num-buffers=3 ! fakesink").run(timeout=10)


def test_records_reach_category_loggers_with_mapped_levels(gst_log, caplog):
    caplog.set_level(1, logger="framepipe.gst")
    gst_log("WARNING", categories="videotestsrc:5,basesrc:5")
    run_testsrc()
    assert fp.flush_gst_log()
    ours = [r for r in caplog.records if r.name == "framepipe.gst.videotestsrc"]
    assert ours, "videotestsrc logged nothing at DEBUG"
    assert {r.levelno for r in ours} <= {40, 30, 25, 20, 10}
    assert any(r.levelno == logging.DEBUG for r in ours)
    record = ours[0]
    assert record.gst_category == "videotestsrc"
    assert record.pathname.endswith(".c") and record.lineno > 0
    assert any(re.match(r"videotestsrc\d+: ", r.getMessage()) for r in ours)
    # A category left at the default WARNING threshold sends no DEBUG records.
    assert not [r for r in caplog.records if r.name == "framepipe.gst.GST_PADS" and r.levelno < 30]


def test_switching_off_and_levels_at_run_time(gst_log, caplog):
    caplog.set_level(1, logger="framepipe.gst")
    gst_log("DEBUG", categories="videotestsrc:5")
    run_testsrc()
    fp.flush_gst_log()
    assert [r for r in caplog.records if r.name == "framepipe.gst.videotestsrc"]
    gst_log("ERROR")  # categories replaced: videotestsrc back at ERROR
    fp.flush_gst_log()  # what GStreamer's threads logged before the switch
    caplog.clear()
    run_testsrc()
    fp.flush_gst_log()
    assert not [r for r in caplog.records if r.name == "framepipe.gst.videotestsrc"]
    gst_log(None)
    run_testsrc()
    assert not caplog.records


def test_python_logger_level_still_filters(gst_log, caplog):
    caplog.set_level(logging.WARNING, logger="framepipe.gst")
    gst_log("DEBUG", categories="videotestsrc:5")
    run_testsrc()
    fp.flush_gst_log()
    assert not [r for r in caplog.records if r.levelno < logging.WARNING]


@pytest.mark.parametrize(("level", "exc"), [("LOUD", ValueError), (2.5, TypeError), (True, TypeError)])
def test_bad_levels(level, exc):
    with pytest.raises(exc):
        fp.set_gst_log_level(level)
