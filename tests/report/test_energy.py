"""Energy in the HTML report: a column when some row has a reading, the reason in the footer otherwise."""

import re

from batchmark.report.page import render_report
from batchmark.results import EnergyReading, apply_energy
from tests.sample_runs import ok_row, run, steps_around


def energy_run(reading=None, note=None):
    rows = [ok_row("mobilenetv3", "torch", "baseline", steps_around(0.2), warnings=[("outliers", "1 outlier")])]
    rows[0].measured.energy, rows[0].measured.energy_missing = reading, note
    apply_energy(rows[0])
    return run(rows)


def test_a_reading_gets_a_column_with_its_exact_value():
    reading = EnergyReading(meter="nvml", domains=["GPU: NVIDIA H200"], joules=500.0, seconds=5.0, steps=10)
    page = render_report([energy_run(reading=reading)])
    assert "energy<br>per batch" in page
    cell = re.search(r'<td class="num [^"]*" data-field="energy" data-value="50.0" title="([^"]*)">([^<]*)</td>', page)
    assert cell and cell.group(2) == "50 J · 0.64 samples/J" and "100 W" in cell.group(1)
    assert 'colspan="12"' in page and "Energy n/a" not in page


def test_no_meter_no_column_and_the_reason_once():
    page = render_report([energy_run(note="no energy meter: /sys/class/powercap is absent"),
                          energy_run(note="no energy meter: /sys/class/powercap is absent")])
    assert "energy<br>per batch" not in page and 'data-field="energy"' not in page
    assert page.count("Energy n/a: no energy meter: /sys/class/powercap is absent.") == 1
    assert 'colspan="11"' in page
