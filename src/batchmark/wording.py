"""Wording: the sentences users read, as plain text with a tone; each renderer styles them its own way.

The terminal maps a tone to a Rich style (cli/render_results.py), the HTML report and the leaderboard's
pages to a CSS class (report/tones.py). A phrase is text, never markup: it carries plan labels, hostnames and
failure messages that users typed or programs printed, so every renderer escapes or assembles it as text.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Literal, Protocol

from batchmark.results import ResultsFile, Row, RowWarning

# good / bad: better or worse than what it is measured against; warn: needs a look; muted: said for
# completeness; strong: what the sentence is about; best: the one a sentence picks out (strong and good).
Tone = Literal["good", "bad", "warn", "muted", "plain", "strong", "best"]
TONES: tuple[Tone, ...] = typing.get_args(Tone)

NOTHING = "—"  # what was not measured: a dash, never a 0 that reads as a number
# Below half a percent, a ratio of medians printed to two decimals would read 1.00x: call it the same.
SAME = 0.005
SI_PREFIXES = (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("", 1.0))
INTERRUPTED = "Interrupted: the rows above finished and are saved; the rest did not run."


@dataclass(frozen=True)
class Phrase:
    text: str
    tone: Tone = "plain"


class Sentence(tuple[Phrase, ...]):
    """Phrases in reading order; `plain` is the sentence without its tones, for logs and tests."""

    @property
    def plain(self) -> str:
        return "".join(phrase.text for phrase in self)


def sentence(*parts: Phrase | str) -> Sentence:
    """A bare string is a plain phrase; an empty phrase is left out rather than kept as an empty span."""
    phrases = (part if isinstance(part, Phrase) else Phrase(part) for part in parts)
    return Sentence(phrase for phrase in phrases if phrase.text)


def human_bytes(count: int | None) -> str:
    if count is None:
        return NOTHING
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def flops_per_second(value: float | None, decimals: int | None = None) -> str:
    """"1.23 TFLOP/s": three significant digits, or `decimals` digits after the point."""
    if value is None:
        return NOTHING
    prefix, scale = next((prefix, scale) for prefix, scale in SI_PREFIXES if value >= scale or scale == 1.0)
    number = f"{value / scale:.3g}" if decimals is None else f"{value / scale:.{decimals}f}"
    return f"{number} {prefix}FLOP/s"


def speedup(speedup: float | None, is_baseline: bool) -> Phrase:
    """Baseline median ÷ this median, as a user says it: "1.45x faster", "1.30x slower"."""
    if speedup is None:
        return Phrase(NOTHING, "muted")
    if is_baseline:
        return Phrase("1.00x", "muted")
    if speedup >= 1:
        return Phrase(f"{speedup:.2f}x faster", "good")
    return Phrase(f"{1 / speedup:.2f}x slower", "bad")


def against(ratio: float) -> Phrase:
    """B's median ÷ A's, said from B's side: below 1, B is faster."""
    if abs(ratio - 1) < SAME:
        return Phrase("the same", "muted")
    return Phrase(f"{1 / ratio:.2f}x faster", "good") if ratio < 1 else Phrase(f"{ratio:.2f}x slower", "bad")


def fastest(results: ResultsFile) -> list[Sentence]:
    """Per workload, the fastest (framework, plan) measured, and how clearly it beat the runner-up."""
    sentences = []
    for workload in dict.fromkeys(row.workload for row in results.rows):
        # One process a row only: a data-parallel row's seconds are one rank's share of N batches, and its own line
        # says how it scaled.
        ranked = sorted((row for row in results.rows
                         if row.workload == workload and row.status == "ok" and row.world_size == 1),
                        key=lambda row: row.statistics.median)
        if len(ranked) < 2:
            continue
        best, second = ranked[0], ranked[1]
        ratio = second.statistics.median / best.statistics.median
        # Overlapping 95% CIs of the medians: the order of the two is not established by this run.
        clear = best.statistics.ci_high < second.statistics.ci_low
        verdict = (f"{ratio:.2f}x faster than" if clear else "within noise of") + \
            f" {second.framework} · {plan_name(second)} ({second.statistics.median:.4f})"
        sentences.append(sentence(Phrase(f"{workload}: ", "strong"), "fastest here is ",
                                  Phrase(f"{best.framework} · {plan_name(best)}", "best"),
                                  f" at {best.statistics.median:.4f} s/batch, {verdict}"))
    return sentences


def where(workload: str, framework: str, plan: str) -> str:
    return f"{workload} / {framework} / {plan}"


def plan_name(row: Row) -> str:
    """The row's plan under every name it was asked for: "baseline = accelerated" when they resolved alike; a
    data-parallel row's says its ranks, since the same plan in one process is another row of the run."""
    ranks = f" ×{row.world_size} ranks" if row.world_size > 1 else ""
    return " = ".join((row.plan_label, *row.also_labels)) + ranks


def same_plan(row: Row) -> Phrase | None:
    """Why one row stands for several plan names; None for a row of one name."""
    if not row.also_labels:
        return None
    if any(note.startswith(tuple(f"{label}:" for label in row.also_labels)) for note in row.notes):
        return Phrase(f"{', '.join(row.also_labels)} = {row.plan_label} here: nothing measured faster, so it was "
                      f"measured once", "muted")
    return Phrase(f"{', '.join(row.also_labels)} = {row.plan_label} here: no switch applies, so it was measured "
                  f"once", "muted")


PLAN_SOURCES = {"static": "static", "tuned": "tuned", "screened": "tuned in this run"}
# The same, as a tag beside a plan's switches: "static plan", "tuned plan", "tuned in this run".
PLAN_SOURCE_TAGS = {"static": "static plan", "tuned": "tuned plan", "screened": "tuned in this run"}


def plan_source(source: str) -> str:
    """How a named plan was found, as the tables say it."""
    return PLAN_SOURCES.get(source, source)


def plan_source_tag(source: str) -> str:
    return PLAN_SOURCE_TAGS.get(source, f"{source} plan")


def row_note(index: int, row: Row, note: str) -> Sentence:
    return sentence(f"[{index}] ", Phrase(f"{where(row.workload, row.framework, plan_name(row))}: ", "muted"), note)


def scaling(index: int, row: Row) -> Sentence:
    """A data-parallel row's throughput in all and its scaling efficiency, under the table."""
    threads = f", {row.measured.threads} thread(s) each" if row.measured.threads else ""
    head = (f"[{index}] {where(row.workload, row.framework, plan_name(row))}: {row.measured.distributed_backend}"
            f"{threads}, {row.aggregate_samples_per_second:.3g} samples/s in all")
    if row.scaling_efficiency is None:
        return sentence(head, Phrase("; no one-process row of the same plan to set it against", "muted"))
    tone = "good" if row.scaling_efficiency_ci_low >= 0.9 else "warn" if row.scaling_efficiency < 0.7 else "plain"
    return sentence(f"{head}; scaling efficiency ", Phrase(f"{row.scaling_efficiency:.0%}", tone),
                    f" [{row.scaling_efficiency_ci_low:.0%}–{row.scaling_efficiency_ci_high:.0%}] of {row.world_size}"
                    f" × the one-process row's throughput")


NOT_AVAILABLE = "n/a"  # energy where this machine has no meter: the reason is said once, under the table


def has_energy(rows: list[Row]) -> bool:
    """Whether any row has an energy reading: only then do the tables give energy columns of their own."""
    return any(row.joules_per_batch is not None for row in rows)


def energy_cells(row: Row) -> tuple[str, str, str]:
    """(J/batch, W, samples/J) of a row: three significant digits, "n/a" where there is no reading."""
    if row.joules_per_batch is None:
        return NOT_AVAILABLE, NOT_AVAILABLE, NOT_AVAILABLE
    return (f"{row.joules_per_batch:.3g}", f"{row.average_watts:.3g}",
            NOT_AVAILABLE if row.samples_per_joule is None else f"{row.samples_per_joule:.3g}")


def energy_unavailable(rows: list[Row]) -> list[Sentence]:
    """Why energy is n/a, each reason once with the [n] of the rows it is about (all rows: no list)."""
    reasons: dict[str, list[int]] = {}
    for index, row in enumerate(rows, start=1):
        if row.status == "ok" and row.joules_per_batch is None and row.energy_note:
            reasons.setdefault(row.energy_note, []).append(index)
    measured = sum(1 for row in rows if row.status == "ok")
    return [sentence(Phrase("energy n/a", "muted"),
                     "" if len(indices) == measured else f" ({', '.join(f'[{index}]' for index in indices)})",
                     Phrase(f": {reason}", "muted"))
            for reason, indices in reasons.items()]


def not_run(entry) -> Sentence:
    """A row the budget could not afford, under the table."""
    return sentence(Phrase(f"not run: {where(entry.workload, entry.framework, entry.plan_label)}: ", "warn"),
                    entry.reason)


def failed(row: Row) -> Phrase:
    """A row with no numbers, in its table cell or chart slot: "FAILED (oom)"."""
    return Phrase(f"FAILED ({row.failure.kind if row.failure else 'no measurement'})", "bad")


def failure(index: int, row: Row) -> Sentence:
    """The note under the table for a failed row, `index` its [n] in the notes column."""
    return sentence(f"[{index}] ", Phrase(f"{where(row.workload, row.framework, plan_name(row))} failed "
                                          f"({row.failure.kind}): ", "bad"), row.failure.message,
                    Phrase(f" (log: {row.failure.log})" if row.failure.log else "", "muted"))


def row_warning(index: int, row: Row, warning: RowWarning) -> Sentence:
    return sentence(f"[{index}] ", Phrase(f"{where(row.workload, row.framework, plan_name(row))}: ", "warn"),
                    warning.message)


def interrupted() -> Phrase:
    return Phrase(INTERRUPTED, "warn")


class ComparedPair(Protocol):
    """What wording reads of a compare.Pair: compare sits above wording, so it is named by shape."""

    status: str
    verdict: str | None
    ratio: float | None
    reason: str | None


def verdict(pair: ComparedPair) -> Phrase:
    """A pair of runs' rows in one phrase: "1.25x slower", "no change (within ±5%)", or why not compared."""
    if pair.status != "compared":
        return Phrase(pair.status.upper(), "warn")
    if pair.verdict == "no change":
        return Phrase(f"no change ({pair.reason})", "muted")
    return speedup(1 / pair.ratio, is_baseline=False)


def comparison_summary(compared: int, geomean_ratio: float | None, regressions: int) -> Sentence:
    if not compared:
        return sentence(Phrase("no pair of rows could be compared", "warn"))
    return sentence(f"geomean B/A over {compared} rows: {geomean_ratio:.2f} "
                    f"({speedup(1 / geomean_ratio, is_baseline=False).text})",
                    Phrase(f"; {regressions} significant regression(s)" if regressions else "", "bad"))


def not_compared(status: str, place: str, reason: str | None) -> Sentence:
    """A refused or failed pair, `place` its where(): the status, then the reason in plain words."""
    return sentence(Phrase(f"{status}: {place}: ", "warn"), reason or "")


def unmatched(side: str, run_id: str, place: str) -> Phrase:
    return Phrase(f"only in {side} (run {run_id}): {place}", "muted")


def compare_warning(message: str) -> Phrase:
    return Phrase(f"warning: {message}", "warn")
