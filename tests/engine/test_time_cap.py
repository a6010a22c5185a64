"""A row whose steps cannot fit its time limit stops with what it measured (a framework whose steps can take
minutes, MLX on a Linux CPU): the warm-up's pace predicts the rest, and the row says it is over the time cap."""

from __future__ import annotations

from batchmark.engine.timing import OVER_TIME_CAP, StopRule, measure
from tests.engine.test_timing import FakeClock, RecordingSession


def rule(row_seconds):
    return StopRule(warmup_steps=2, min_seconds=0.0, min_steps=5, max_steps=10, row_seconds=row_seconds)


def test_a_step_too_slow_for_the_row_stops_in_the_warm_up():
    clock = FakeClock()
    measurement = measure(RecordingSession(clock, [100.0] * 10), rule(600.0), clock=clock)
    # After one 100 s warm-up step, 1 more warm-up and 5 timed steps would end at 700 s.
    assert measurement.stopped_by == OVER_TIME_CAP
    assert measurement.warmup_seconds == [100.0] and measurement.step_seconds == []


def test_steps_that_fit_are_timed_as_ever():
    clock = FakeClock()
    measurement = measure(RecordingSession(clock, [80.0] * 10), rule(600.0), clock=clock)
    assert measurement.stopped_by == "steps" and len(measurement.step_seconds) == 5


def test_a_row_that_slows_down_midway_keeps_its_timed_steps():
    clock = FakeClock()
    measurement = measure(RecordingSession(clock, [10.0, 10.0, 10.0, 300.0, 300.0]), rule(600.0), clock=clock)
    assert measurement.stopped_by == "time cap" and measurement.step_seconds == [10.0, 300.0]


def test_without_a_row_limit_nothing_changes():
    clock = FakeClock()
    measurement = measure(RecordingSession(clock, [1000.0] * 10), rule(None), clock=clock)
    assert measurement.stopped_by == "steps" and len(measurement.step_seconds) == 5
