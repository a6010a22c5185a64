"""Energy in submissions: a client's claim, bounded where that is cheap, recomputed, and on the run page."""

import json
import re

import pytest

from batchmark.server.validation import SubmissionRefused, parse_submission
from tests.sample_runs import ok_row, run
from tests.server.conftest import bearer

STEPS = [1.0, 1.0, 1.1, 0.9, 1.0]


def submitted(energy=None, energy_missing=None, **forged) -> bytes:
    rows = [ok_row("mobilenetv3", "torch", "baseline", STEPS), ok_row("mobilenetv3", "torch", "accelerated", STEPS)]
    data = json.loads(run(rows).model_dump_json())
    data["rows"][0]["measured"].update(energy=energy, energy_missing=energy_missing)
    data["rows"][1]["measured"]["energy_missing"] = "no energy meter: /sys/class/powercap is absent"
    data["rows"][0].update(forged)
    return json.dumps(data).encode()


def reading(joules=250.0, seconds=5.2, steps=5, domains=("package-0",)):
    return {"meter": "rapl", "domains": list(domains), "joules": joules, "seconds": seconds, "steps": steps}


def test_the_per_batch_figures_are_recomputed_from_the_reading():
    results, _ = parse_submission(submitted(reading(), samples_per_joule=1e6, joules_per_batch=1e-6))
    row = results.rows[0]
    assert row.joules_per_batch == pytest.approx(50.0) and row.samples_per_joule == pytest.approx(32 / 50.0)
    assert results.rows[1].energy_note == "no energy meter: /sys/class/powercap is absent"


@pytest.mark.parametrize("claim, refused", [
    (reading(joules=0.0), "must be positive"),
    (reading(joules=5.2 * 2500), "at most 2000 W"),
    (reading(steps=4), r"steps: 4, but the row has 5"),
    (reading(seconds=3.0), "shorter than the 5 s of its timed steps"),
])
def test_impossible_readings_are_refused_in_one_line(claim, refused):
    with pytest.raises(SubmissionRefused, match=refused):
        parse_submission(submitted(claim))


def clock_samples(count, reasons=()):
    return [{"seconds": index * 0.5, "cpu_mhz": 2600.0, "throttle_reasons": list(reasons)} for index in range(count)]


@pytest.mark.parametrize("change, refused", [
    (lambda row: row.update(clocks=clock_samples(501)), "clocks: 501 samples, at most 500"),
    (lambda row: row.update(clocks=clock_samples(2, ["<script>"])), "throttle_reasons: \\['<script>'\\]"),
    (lambda row: row.update(clocks=clock_samples(2, ["hw_slowdown"] * 6)), "throttle_reasons: too many"),
    (lambda row: row.update(energy_missing="x" * 201), "energy_missing: 201 characters, at most 200"),
    (lambda row: row.update(energy=reading(domains=[f"package-{n}" for n in range(17)])), "at most 16 names"),
    (lambda row: row.update(energy=reading(domains=["p" * 201])), "at most 16 names of at most 200"),
])
def test_telemetry_beyond_what_batchmark_writes_is_refused(change, refused):
    """Every list a client sends is bounded (issue 16): clocks, throttle reasons and meter names are stored and shown."""
    data = json.loads(submitted())
    change(data["rows"][0]["measured"])
    with pytest.raises(SubmissionRefused, match=refused):
        parse_submission(json.dumps(data).encode())


def test_clocks_as_batchmark_writes_them_are_taken():
    data = json.loads(submitted())
    data["rows"][0]["measured"]["clocks"] = clock_samples(500, ["sw_thermal_slowdown"])
    results, _ = parse_submission(json.dumps(data).encode())
    assert len(results.rows[0].measured.clocks) == 500


def test_two_packages_may_draw_twice_as_much():
    results, _ = parse_submission(submitted(reading(joules=5.2 * 2500, domains=("package-0", "package-1"))))
    assert results.rows[0].average_watts == pytest.approx(2500)


def test_the_run_page_shows_samples_per_joule_and_the_reason_once(client, token):
    body = submitted(reading())
    answer = client.post("/api/v1/runs", content=body, headers=bearer(token))
    assert answer.status_code == 201, answer.text
    page = client.get(answer.json()["url"].replace("http://testserver", "")).text
    assert "samples/J" in page
    assert re.search(r'data-field="samples_per_joule" data-value="0.64"[^>]*>0.64<', page)
    assert page.count("Energy n/a: no energy meter: /sys/class/powercap is absent.") == 1


def test_a_run_without_any_reading_has_no_energy_column(client, token):
    body = submitted(energy_missing="no energy meter: /sys/class/powercap is absent")
    answer = client.post("/api/v1/runs", content=body, headers=bearer(token))
    page = client.get(answer.json()["url"].replace("http://testserver", "")).text
    assert "samples/J" not in page and page.count("Energy n/a: no energy meter") == 1


def test_the_leaderboard_ranks_with_samples_per_joule_where_a_meter_read_it(client, token):
    """Issue 17: energy shows on the leaderboard, in its JSON and as a column, only once some entry has a reading."""
    assert client.post("/api/v1/runs", content=submitted(energy_missing="no energy meter: /sys/class/powercap is absent"),
                       headers=bearer(token)).status_code == 201
    everyone = {"include_unverified": "true"}  # these rows carry the sample runs' FLOP count: unverified
    assert "samples/J" not in client.get("/leaderboard/mobilenetv3", params=everyone).text
    data = json.loads(submitted(reading()))
    data["run_id"], data["machine"]["hostname"] = "20261130T120000Z-metered", "metered-box"
    assert client.post("/api/v1/runs", content=json.dumps(data).encode(), headers=bearer(token)).status_code == 201
    board = client.get("/api/v1/leaderboard/mobilenetv3", params=everyone).json()
    assert sorted(entry["samples_per_joule"] is not None for entry in board["entries"]) == [False, True]
    page = client.get("/leaderboard/mobilenetv3", params=everyone).text
    assert "samples/J" in page and re.search(r'data-field="samples_per_joule" data-value="0.64"[^>]*>0.64<', page)
