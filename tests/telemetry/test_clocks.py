import pytest

from batchmark.results import ClockSample
from batchmark.telemetry.clocks import ClockSampler, gpu_reading, throttling
from tests.telemetry.conftest import FakeNvml


class SteppedClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 0.25
        return self.now


def test_sampler_samples_start_and_end_with_a_fake_source():
    values = iter([3000.0, 2900.0, 2000.0, 1900.0, 1800.0] + [1800.0] * 100)
    sampler = ClockSampler([lambda: {"cpu_mhz": next(values)}], interval=0.01, clock=SteppedClock())
    sampler.start()
    assert sampler.samples[0].cpu_mhz == 3000.0  # the start is sampled before any step
    sampler.stop()
    assert len(sampler.samples) >= 2 and sampler._thread is None
    assert [s.seconds for s in sampler.samples] == sorted(s.seconds for s in sampler.samples)


def test_sampler_without_readings_starts_no_thread():
    sampler = ClockSampler([])
    sampler.start()
    sampler.stop()
    assert sampler.samples == [] and sampler._thread is None


def test_a_failing_reading_is_a_missing_sample():
    def broken():
        raise OSError("gone")
    sampler = ClockSampler([broken, lambda: {"cpu_mhz": 2000.0}], clock=SteppedClock())
    sampler.started = 0.0
    sampler.sample()
    assert sampler.samples[0].cpu_mhz == 2000.0


def test_gpu_reading_names_only_slowing_reasons():
    fake = FakeNvml()
    fake.reasons = 0x1 | 0x20 | 0x4  # idle (not a throttle), sw thermal, sw power cap
    reading = gpu_reading(fake, "gpu0")()
    assert reading["throttle_reasons"] == ["sw_power_cap", "sw_thermal_slowdown"]
    assert reading["gpu_sm_mhz"] == 1980.0 and reading["gpu_temperature_c"] == 60.0


def test_gpu_reading_with_the_old_nvml_name():
    fake = FakeNvml()
    fake.nvmlDeviceGetCurrentClocksThrottleReasons = lambda handle: 0x40
    del FakeNvml.nvmlDeviceGetCurrentClocksEventReasons
    try:
        assert gpu_reading(fake, "gpu0")()["throttle_reasons"] == ["hw_thermal_slowdown"]
    finally:
        FakeNvml.nvmlDeviceGetCurrentClocksEventReasons = lambda self, handle: self.reasons


def samples(field, values, **extra):
    return [ClockSample(seconds=index * 0.5, **{field: value}, **extra) for index, value in enumerate(values)]


@pytest.mark.parametrize("values, warned", [
    ([3000, 2990, 3010, 2950], False),  # steady
    ([3000, 2800, 2710], False),  # within 10%
    ([3000, 2900, 2600, 2650], True),  # 13% below the start
    ([2000, 3000, 3100], False),  # rising (turbo ramping up) is not a throttle
    ([3000], False),  # one sample: nothing to compare
])
def test_cpu_clock_fall(values, warned):
    message = throttling(samples("cpu_mhz", values))
    assert (message is not None) == warned
    if warned:
        assert "fell from 3000 to 2600 MHz" in message and "rerun" in message


def test_gpu_sm_clock_fall_and_reasons():
    message = throttling(samples("gpu_sm_mhz", [1980, 1500], gpu_temperature_c=87.0))
    assert "the GPU's SM clock fell from 1980 to 1500 MHz" in message
    message = throttling([ClockSample(seconds=0, gpu_sm_mhz=1980, gpu_temperature_c=84,
                                      throttle_reasons=["hw_thermal_slowdown"])])
    assert "hw_thermal_slowdown" in message and "84 °C" in message and "nvidia-smi" in message


def test_no_samples_no_warning():
    assert throttling([]) is None


def test_a_long_row_is_thinned_not_unbounded():
    from batchmark.telemetry.clocks import MAX_SAMPLES
    sampler = ClockSampler([lambda: {"cpu_mhz": 2000.0}], interval=0.5, clock=SteppedClock())
    sampler.started = 0.0
    for _ in range(3 * MAX_SAMPLES):
        sampler.sample()
    assert len(sampler.samples) < MAX_SAMPLES and sampler.interval > 0.5
    assert sampler.samples[0].seconds == 0.25  # the start is kept
