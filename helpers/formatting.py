"""Numbers and lists as text: percentages, durations, ratios, plurals, Markdown tables."""
from __future__ import annotations

import re


def pct(value: float, digits: int = 1) -> str:
    """Format an accuracy in [0, 1] as a percentage."""
    return f"{100 * value:.{digits}f} %"


def points(value: float, digits: int = 1, sign: bool = False) -> str:
    """Format a difference of two accuracies in [0, 1] as percentage points ("+2.3 points")."""
    return f"{100 * value:{'+' if sign else ''}.{digits}f} points"


def relative(difference: float, reference: str, digits: int = 1) -> str:
    """Put a difference of accuracies in words: "2.0 points above its test accuracy", "... below ...", "equal to ..."."""
    if round(100 * abs(difference), digits) == 0:
        return f"equal to {reference}"
    return f"{points(abs(difference), digits)} {'above' if difference > 0 else 'below'} {reference}"


def secs(value: float) -> str:
    """Format a duration in seconds with sensible precision (milliseconds below a tenth of a second)."""
    if value >= 100:
        return f"{value:.0f} s"
    if value < 0.1:
        ms = 1000 * value
        return f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms" if ms >= 1 else f"{ms:.2f} ms"
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def minutes(seconds: float) -> str:
    """Format a longer duration: "14.5 min", or "42 s" under a minute."""
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def format_time(seconds: float) -> str:
    """Format a duration as a clock reads it: H:MM:SS (or M:SS under an hour), as SLURM's limits are written."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def ratio(a: float, b: float) -> str:
    """Format a/b as "3.2x"."""
    return times(a / b)


def times(factor: float) -> str:
    """Format a factor as "3.2x" (two digits below 1.1, where one would read as no difference)."""
    return f"{factor:.2f}x" if 0.9 < factor < 1.1 else f"{factor:.1f}x"


def rate(lr: float) -> str:
    """Format a learning rate as written in the settings (0.001, not 1e-03)."""
    return f"{lr:g}"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """Return the singular or plural form of a word for a count (without the count)."""
    return singular if count == 1 else (plural_form or singular + "s")


def count_of(count: int, total: int, noun: str) -> str:
    """Return how many of a total, in words: "both seeds", "neither seed", "all 3 seeds", "none of the 3 seeds", "1 of 3 seeds"."""
    if total == 2 and count in (0, 2):
        return f"neither {noun}" if count == 0 else f"both {plural(2, noun)}"
    if count == total and total > 1:
        return f"all {total} {plural(total, noun)}"
    if count == 0 and total > 1:
        return f"none of the {total} {plural(total, noun)}"
    return f"{count} of {total} {plural(total, noun)}"


def join_words(items, conjunction: str = "and") -> str:
    """Join items as an English list: "a", "a and b", "a, b and c"."""
    items = [str(item) for item in items]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def markdown_text(text: str) -> str:
    """Text from a user (a name) as Markdown that shows it as typed: every ASCII punctuation mark escaped."""
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", str(text))


def _visible(text: str) -> str:
    return re.sub(r"\\[A-Za-z]+|[$*{}^_]", "", text)


def markdown_table(headers: list[str], rows: list[list]) -> str:
    """Return a GitHub/pandoc pipe table."""
    cells = [[str(cell) for cell in row] for row in rows]
    # Pandoc sizes the columns of a wide table by the dashes under each header. Each column gets room
    # for its longest word (words do not break) and half its longest text (that may wrap once);
    # LaTeX commands and markup take no room on the page.
    widths = []
    for i, header in enumerate(headers):
        texts = [_visible(t) for t in [header, *(row[i] for row in cells)]]
        longest_word = max(len(word) for text in texts for word in text.split() or [""])
        widths.append(5 + max(longest_word, max(len(text) for text in texts) // 2))
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("-" * w for w in widths) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)
