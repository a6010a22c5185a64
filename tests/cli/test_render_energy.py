"""Energy in the terminal table: columns only when some row has a reading, else the reason once."""

from rich.console import Console

from batchmark.cli.render_results import print_results
from batchmark.results import EnergyReading, apply_energy
from tests.sample_runs import ok_row, run, steps_around


def rendered(results) -> str:
    console = Console(record=True, width=300)
    print_results(results, console)
    return console.export_text()


def rows_with(note=None, reading=None, count=2):
    rows = [ok_row("mobilenetv3", "torch", label, steps_around(0.2)) for label in ("baseline", "accelerated")[:count]]
    for row in rows:
        row.measured.energy, row.measured.energy_missing = reading, note
        apply_energy(row)
    return rows


def test_no_meter_no_columns_and_the_reason_once():
    text = rendered(run(rows_with(note="no energy meter: /sys/class/powercap is absent")))
    assert "J/batch" not in text
    assert text.count("no energy meter: /sys/class/powercap is absent") == 1
    assert "energy n/a: no energy meter" in text  # every row: no row list


def test_a_reading_gives_columns():
    reading = EnergyReading(meter="rapl", domains=["package-0"], joules=120.0, seconds=6.0, steps=10)
    text = rendered(run(rows_with(reading=reading)))
    assert "J/batch" in text and "samples/J" in text
    assert "12" in text and "20" in text and "2.67" in text  # 12 J/batch, 20 W, 32/12 samples/J
    assert "energy n/a" not in text


def test_mixed_rows_say_n_a_and_name_the_rows_without():
    reading = EnergyReading(meter="rapl", domains=["package-0"], joules=120.0, seconds=6.0, steps=10)
    rows = rows_with(reading=reading, count=1) + rows_with(note="no energy meter read on mps by batchmark yet",
                                                           count=1)
    text = rendered(run(rows))
    assert "n/a" in text and "energy n/a ([2]): no energy meter read on mps" in text


def test_old_files_say_nothing_about_energy():
    text = rendered(run(rows_with()))
    assert "J/batch" not in text and "energy" not in text
