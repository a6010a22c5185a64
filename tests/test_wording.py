"""The words users read, with their tones: exact texts, whichever renderer (terminal, report, server) shows them."""

from types import SimpleNamespace

import pytest

from batchmark import wording
from batchmark.cli.render_results import STYLES
from batchmark.report.tones import CSS_CLASSES
from batchmark.wording import Phrase
from tests.sample_runs import failed_row, gpu_row, gpu_run


def toned(words):
    """The phrases that carry a tone, as (text, tone): what a renderer styles."""
    return [(phrase.text, phrase.tone) for phrase in words if phrase.tone != "plain"]


@pytest.mark.parametrize("speedup, is_baseline, expected", [
    (1.45, False, Phrase("1.45x faster", "good")),
    (1 / 1.3, False, Phrase("1.30x slower", "bad")),
    (1.0, False, Phrase("1.00x faster", "good")),  # equal medians: not slower
    (1.0, True, Phrase("1.00x", "muted")),  # the baseline is its own reference
    (None, False, Phrase("—", "muted")),  # no baseline measured: a dash, never a number
])
def test_speedup(speedup, is_baseline, expected):
    assert wording.speedup(speedup, is_baseline) == expected


@pytest.mark.parametrize("ratio, expected", [
    (0.8, Phrase("1.25x faster", "good")),
    (1.25, Phrase("1.25x slower", "bad")),
    (1.004, Phrase("the same", "muted")),
])
def test_b_against_a_is_said_from_bs_side(ratio, expected):
    assert wording.against(ratio) == expected


@pytest.mark.parametrize("runner_up, verdict", [
    # 0.080 against 0.050: the 95% CIs of the medians are far apart, so the sentence says by how much.
    (("torch", "baseline", 0.080), "1.60x faster than torch · baseline (0.0800)"),
    # 0.052 against 0.050: they overlap, and this run has not established which of the two is faster.
    (("tensorflow", "baseline", 0.052), "within noise of tensorflow · baseline (0.0520)"),
])
def test_fastest_says_by_how_much_only_when_the_cis_do_not_overlap(runner_up, verdict):
    run = gpu_run(rows=[gpu_row("mobilenetv3", *runner_up), gpu_row("mobilenetv3", "torch", "accelerated", 0.050)])
    [line] = wording.fastest(run)
    assert line.plain == f"mobilenetv3: fastest here is torch · accelerated at 0.0500 s/batch, {verdict}"
    assert toned(line) == [("mobilenetv3: ", "strong"), ("torch · accelerated", "best")]


def test_fastest_needs_two_measured_rows_of_a_workload():
    run = gpu_run(rows=[gpu_row("densenet121", "torch", "baseline", 0.3),
                        failed_row("densenet121", "torch", "accelerated")])
    assert wording.fastest(run) == []


def test_a_failure_keeps_its_message_as_plain_text_and_says_nothing_of_a_missing_log():
    row = failed_row("densenet121", "torch", "accelerated", message="[bold]not markup[/bold]")
    line = wording.failure(8, row)
    assert line.plain == "[8] densenet121 / torch / accelerated failed (oom): [bold]not markup[/bold]"
    assert toned(line) == [("densenet121 / torch / accelerated failed (oom): ", "bad")]
    assert wording.failed(row) == Phrase("FAILED (oom)", "bad")


@pytest.mark.parametrize("pair, expected", [
    (dict(status="compared", verdict="no change", ratio=1.02, reason="within ±5%"),
     Phrase("no change (within ±5%)", "muted")),
    (dict(status="compared", verdict="slower", ratio=1.25, reason="beyond ±5%"), Phrase("1.25x slower", "bad")),
    (dict(status="compared", verdict="faster", ratio=0.8, reason="beyond ±5%"), Phrase("1.25x faster", "good")),
    (dict(status="refused", verdict=None, ratio=None, reason="batch size 32 vs 16"), Phrase("REFUSED", "warn")),
])
def test_compare_verdicts(pair, expected):
    assert wording.verdict(SimpleNamespace(**pair)) == expected


def test_compare_summary():
    line = wording.comparison_summary(3, 1.1, regressions=2)
    assert line.plain == "geomean B/A over 3 rows: 1.10 (1.10x slower); 2 significant regression(s)"
    assert toned(line) == [("; 2 significant regression(s)", "bad")]
    assert toned(wording.comparison_summary(0, None, 0)) == [("no pair of rows could be compared", "warn")]


@pytest.mark.parametrize("count, expected", [(None, "—"), (512, "512 B"), (1536, "1.5 KiB"),
                                             (int(2.5 * 1024**3), "2.5 GiB"), (3 * 1024**4, "3072.0 GiB")])
def test_human_bytes(count, expected):
    assert wording.human_bytes(count) == expected


@pytest.mark.parametrize("value, decimals, expected", [(None, None, "—"), (2.5e15, None, "2.5 PFLOP/s"),
                                                       (1.234e12, None, "1.23 TFLOP/s"), (1.234e12, 1, "1.2 TFLOP/s"),
                                                       (456e9, 1, "456.0 GFLOP/s"), (12.0, None, "12 FLOP/s")])
def test_flops_per_second(value, decimals, expected):
    assert wording.flops_per_second(value, decimals) == expected


def test_every_tone_has_a_terminal_style_and_a_css_class():
    assert set(STYLES) == set(CSS_CLASSES) == set(wording.TONES)
