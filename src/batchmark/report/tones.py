"""Tones as HTML: one CSS class per tone, which the report's stylesheet and the leaderboard's both define.

The HTML counterpart of the terminal's Rich styles (cli/render_results.py): the same wording, drawn with
the same classes the report has always used for faster (green) and slower (red, bold) numbers.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from batchmark.wording import Phrase, Sentence, Tone

CSS_CLASSES: dict[Tone, str] = {"good": "faster", "best": "faster", "bad": "slower", "warn": "warn",
                                "muted": "muted", "strong": "", "plain": ""}
EMPHASIZED: frozenset[Tone] = frozenset({"strong", "best"})  # what a sentence is about, in <strong>


def css_class(tone: Tone) -> str:
    return CSS_CLASSES[tone]


def said(words: Phrase | Sentence) -> Markup:
    """Words as HTML: each phrase's text escaped, inside its tone's class and, if emphasized, <strong>."""
    phrases = (words,) if isinstance(words, Phrase) else words
    parts = []
    for phrase in phrases:
        piece = escape(phrase.text)
        if CSS_CLASSES[phrase.tone]:
            piece = Markup('<span class="{}">{}</span>').format(CSS_CLASSES[phrase.tone], piece)
        if phrase.tone in EMPHASIZED:
            piece = Markup("<strong>{}</strong>").format(piece)
        parts.append(piece)
    return Markup("").join(parts)
