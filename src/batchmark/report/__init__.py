"""The shareable report: one self-contained HTML file of a run's (or several runs') results and charts."""

from batchmark.report.page import render_report, write_report

__all__ = ["render_report", "write_report"]
