import pytest

from batchmark.telemetry.energy import EnergyWindow, RaplMeter, load_nvml, open_meter, rapl_meter
from tests.telemetry.conftest import FakeNvml, write_domain


def test_no_powercap_says_why_once(tmp_path):
    reason = open_meter("cpu", root=tmp_path / "powercap")
    assert isinstance(reason, str) and "is absent" in reason and reason.startswith("no energy meter")


def test_packages_only_and_summed(tmp_path):
    write_domain(tmp_path, "intel-rapl:0", "package-0", 5_000_000, 10_000_000)
    write_domain(tmp_path, "intel-rapl:1", "package-1", 7_000_000, 10_000_000)
    write_domain(tmp_path, "intel-rapl:0:0", "core", 1_000_000)  # inside package 0: must not count twice
    meter = rapl_meter(tmp_path)
    assert isinstance(meter, RaplMeter) and meter.domains == ["package-0", "package-1"]
    before = meter.read()
    write_domain(tmp_path, "intel-rapl:0", "package-0", 6_500_000, 10_000_000)
    write_domain(tmp_path, "intel-rapl:1", "package-1", 7_250_000, 10_000_000)
    assert meter.joules(before, meter.read()) == pytest.approx(1.75)


def test_wraparound_counts_across_the_wrap(tmp_path):
    write_domain(tmp_path, "intel-rapl:0", "package-0", 900_000, 1_000_000)
    meter = rapl_meter(tmp_path)
    before = meter.read()
    write_domain(tmp_path, "intel-rapl:0", "package-0", 300_000, 1_000_000)  # wrapped: 100k to the top, 300k after
    assert meter.joules(before, meter.read()) == pytest.approx(0.4)


def test_unreadable_counters_name_the_fix(tmp_path, monkeypatch):
    write_domain(tmp_path, "intel-rapl:0", "package-0", 1)

    def refuse(self):
        raise PermissionError("denied")
    monkeypatch.setattr(RaplMeter, "read", refuse)
    reason = rapl_meter(tmp_path)
    assert isinstance(reason, str) and "root only" in reason and "chmod" in reason


def test_no_package_domain(tmp_path):
    (tmp_path / "intel-rapl-mmio:0").mkdir()
    assert "no RAPL package domain" in rapl_meter(tmp_path)


def test_nvml_counts_millijoules_of_the_visible_gpu(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    fake = FakeNvml(energy_mj=1_000)
    meter = open_meter("cuda", nvml=fake)
    assert fake.handles_asked[0] == 2 and meter.domains == ["GPU: NVIDIA H200"]
    before = meter.read()
    fake.energy_mj += 2_500
    assert meter.joules(before, meter.read()) == pytest.approx(2.5)


def test_nvml_by_uuid(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-abc")
    fake = FakeNvml()
    open_meter("cuda", nvml=fake)
    assert fake.handles_asked == ["GPU-abc"]


def test_gpu_without_energy_counter():
    reason = open_meter("cuda", nvml=FakeNvml(supported=False))
    assert isinstance(reason, str) and "no total-energy counter" in reason


def test_no_nvml_module(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails
    assert "nvidia-ml-py is not installed" in load_nvml()


def test_nvml_without_driver(monkeypatch):
    import sys
    fake = FakeNvml()

    def no_driver():
        raise RuntimeError("NVML Shared Library Not Found")
    fake.nvmlInit = no_driver
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    assert load_nvml().startswith("no NVIDIA GPU")
    assert open_meter("cuda").startswith("no NVIDIA GPU")


def test_other_devices_have_no_meter():
    assert "mps" in open_meter("mps")


def test_window_reading(tmp_path):
    write_domain(tmp_path, "intel-rapl:0", "package-0", 0)
    window = EnergyWindow(rapl_meter(tmp_path))
    window.start(10.0)
    write_domain(tmp_path, "intel-rapl:0", "package-0", 600_000)
    window.stop(12.0, steps=4)
    assert (window.reading.joules, window.reading.seconds, window.reading.steps) == (pytest.approx(0.6), 2.0, 4)
    assert window.reading.meter == "rapl"


def test_window_with_no_step_has_no_reading(tmp_path):
    write_domain(tmp_path, "intel-rapl:0", "package-0", 0)
    window = EnergyWindow(rapl_meter(tmp_path))
    window.start(10.0)
    window.stop(11.0, steps=0)
    assert window.reading is None


class FakeAppleMetrics:
    def __init__(self, cpu, gpu, ane, dram):
        self.cpu_total_mj, self.gpu_mj, self.ane_mj, self.dram_mj = cpu, gpu, ane, dram
        self.gpu_sram_mj = 5  # inside the GPU's count: never added again
        self.efficiency_cores_mj = cpu // 2  # inside the CPU total


class FakeAppleLibrary:
    """zeus_apple_silicon's interface: a monitor of named windows, each ending with its metrics in millijoules."""

    def __init__(self, metrics=None, fails=False):
        self.metrics, self.fails, self.windows = metrics, fails, []

    def AppleEnergyMonitor(self):  # noqa: N802 (the library's class name)
        if self.fails:
            raise RuntimeError("IOReport channel group not found")
        library = self

        class Monitor:
            def begin_window(self, name):
                library.windows.append(("begin", name))

            def end_window(self, name):
                library.windows.append(("end", name))
                return library.metrics
        return Monitor()


def test_apple_silicon_counts_the_socs_window_in_millijoules():
    library = FakeAppleLibrary(FakeAppleMetrics(cpu=3_000, gpu=9_000, ane=None, dram=500))  # no ANE reading: 0
    meter = open_meter("mps", apple=True, apple_library=library)
    window = EnergyWindow(meter)
    window.start(10.0)
    window.stop(12.0, steps=4)
    assert [kind for kind, _ in library.windows] == ["begin", "end"]
    assert window.reading.joules == pytest.approx(12.5) and window.reading.meter == "apple"
    assert open_meter("cpu", apple=True, apple_library=library).name == "apple"  # MLX's CPU rows: the same SoC


def test_apple_silicon_without_its_library_or_ioreport_says_why(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "zeus_apple_silicon", None)  # import fails
    assert "zeus-apple-silicon is not installed" in open_meter("mps", apple=True)
    assert "IOReport" in open_meter("mps", apple=True, apple_library=FakeAppleLibrary(fails=True))
