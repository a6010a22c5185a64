import pytest

from batchmark.engine.timing import StopRule, measure


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class RecordingSession:
    """A device stub: every step takes a scripted time, and every call is recorded in order."""

    def __init__(self, clock, durations, queued_work=0.0):
        self.clock = clock
        self.durations = list(durations)
        self.calls = []
        self.pending = 0.0
        self.queued_work = queued_work  # work the step leaves queued until synchronize()

    def step(self):
        self.calls.append("step")
        duration = self.durations.pop(0)
        self.clock.now += duration * (1 - self.queued_work)
        self.pending += duration * self.queued_work
        return duration

    def synchronize(self):
        self.calls.append("sync")
        self.clock.now += self.pending
        self.pending = 0.0

    def read_loss(self, handle):
        self.calls.append("read")
        return float(handle)


def test_warmup_is_kept_apart_from_the_samples():
    clock = FakeClock()
    session = RecordingSession(clock, [30.0, 5.0] + [1.0] * 10)
    result = measure(session, StopRule(warmup_steps=2, min_seconds=0, min_steps=3, max_steps=3), clock=clock)
    assert result.warmup_seconds == [30.0, 5.0]
    assert result.step_seconds == [1.0, 1.0, 1.0]


def test_every_step_is_bracketed_by_synchronization_and_a_read_back():
    clock = FakeClock()
    session = RecordingSession(clock, [1.0] * 4)
    measure(session, StopRule(warmup_steps=1, min_seconds=0, min_steps=3, max_steps=3), clock=clock)
    assert session.calls == ["sync", "step", "sync", "read"] * 4


def test_asynchronous_work_is_billed_to_its_own_step():
    """With 90% of each step's work left queued, only the sync makes the clock see it."""
    clock = FakeClock()
    session = RecordingSession(clock, [0.1] + [2.0] * 3, queued_work=0.9)
    result = measure(session, StopRule(warmup_steps=1, min_seconds=0, min_steps=3, max_steps=3), clock=clock)
    assert result.step_seconds == pytest.approx([2.0, 2.0, 2.0])


def test_missing_sync_would_be_caught():
    """The same stub without a real sync: the times collapse to the queueing cost, which this test detects."""
    clock = FakeClock()
    session = RecordingSession(clock, [2.0] * 4, queued_work=0.9)
    session.synchronize = lambda: session.calls.append("sync")  # a sync that waits for nothing
    result = measure(session, StopRule(warmup_steps=1, min_seconds=0, min_steps=3, max_steps=3), clock=clock)
    assert result.step_seconds != pytest.approx([2.0, 2.0, 2.0])


@pytest.mark.parametrize("step_seconds, max_steps, expected_count", [
    (0.5, 50, 20),  # fast steps: run until the 10 s minimum time
    (8.0, 50, 5),  # slow steps: the minimum count decides
    (0.001, 12, 12),  # the maximum caps the count
])
def test_adaptive_count(step_seconds, max_steps, expected_count):
    clock = FakeClock()
    session = RecordingSession(clock, [step_seconds] * 100)
    rule = StopRule(warmup_steps=0, min_seconds=10.0, min_steps=5, max_steps=max_steps)
    assert len(measure(session, rule, clock=clock).step_seconds) == expected_count


def test_losses_of_timed_steps_are_kept():
    clock = FakeClock()
    session = RecordingSession(clock, [3.0, 1.0, 2.0])
    result = measure(session, StopRule(warmup_steps=1, min_seconds=0, min_steps=2, max_steps=2), clock=clock)
    assert result.losses == [1.0, 2.0]


def test_inconsistent_rule_is_refused():
    with pytest.raises(ValueError):
        StopRule(warmup_steps=0, min_seconds=1, min_steps=10, max_steps=5)
