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


# The precision rule: stop when the median's 95% CI is within the target, or at the time cap.
PRECISE = dict(warmup_steps=0, min_seconds=0.0, min_steps=5, max_steps=50, target_precision=0.03, max_seconds=30.0)


def test_a_quiet_machine_stops_at_the_minimum_with_its_precision_reached():
    clock = FakeClock()
    steps = [1.0, 1.01, 0.99, 1.0, 1.005] + [1.0] * 60
    result = measure(RecordingSession(clock, steps), StopRule(**PRECISE), clock=clock)
    assert len(result.step_seconds) == 5
    assert result.stopped_by == "precision"


def test_a_noisy_machine_takes_more_steps_until_the_time_cap():
    clock = FakeClock()
    steps = [1.0, 1.5, 0.7, 1.3, 0.8] * 20  # ±30%: ±3% is out of reach in 30 s of steps
    result = measure(RecordingSession(clock, steps), StopRule(**PRECISE), clock=clock)
    assert result.stopped_by == "time cap"
    assert 30.0 <= sum(result.step_seconds) < 32.0


def test_noise_that_settles_stops_once_the_target_is_met():
    clock = FakeClock()
    steps = [1.0, 1.4, 0.8, 1.2, 0.9] + [1.0] * 60  # a noisy start, then a quiet machine
    result = measure(RecordingSession(clock, steps), StopRule(**PRECISE), clock=clock)
    assert result.stopped_by == "precision"
    assert 5 < len(result.step_seconds) < 30


def test_the_maximum_count_still_wins_over_the_target():
    clock = FakeClock()
    steps = [1.0, 1.5, 0.7, 1.3, 0.8] * 20
    rule = StopRule(**{**PRECISE, "max_steps": 7, "max_seconds": None})
    result = measure(RecordingSession(clock, steps), rule, clock=clock)
    assert (len(result.step_seconds), result.stopped_by) == (7, "max steps")


def test_a_target_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError):
        StopRule(**{**PRECISE, "target_precision": 3.0})


def test_a_step_slower_than_the_give_up_bound_ends_the_trial_there():
    clock = FakeClock()
    rule = StopRule(warmup_steps=1, min_seconds=0, min_steps=2, max_steps=2, give_up_above=1.5)
    result = measure(RecordingSession(clock, [9.0, 3.0, 3.0]), rule, clock=clock)
    assert (result.step_seconds, result.stopped_by) == ([3.0], "clearly losing")
    fast = measure(RecordingSession(clock, [9.0, 1.0, 1.0]), rule, clock=clock)  # the warm-up may be slow
    assert (fast.step_seconds, fast.stopped_by) == ([1.0, 1.0], "max steps")
