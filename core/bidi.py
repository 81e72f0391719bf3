"""Bidirectional control characters in user-entered names (Trojan Source style spoofing).

Names are shown as entered, in any script (PRODUCT.md). A name may still carry invisible
characters that change the direction of text: an override (U+202E) makes "Acme{U+202E}etal"
read "Acmelate", and an unclosed one reorders whatever follows it on the page. So every
name is shown *isolated* (`<bdi>` on pages, FSI ... PDI in plain text): its controls end
with it and cannot reorder the text around it. A name that holds such controls is also
*flagged* (pages, and `name_has_bidi_controls` in the API), since it may still display
differently from what is stored and searched."""

import re
import unicodedata

# Unicode's explicit directional formatting characters (UAX #9, table 1) and the marks.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_CONTROL = re.compile(f"[{BIDI_CONTROLS}]")
FSI, PDI = "\u2068", "\u2069"


def has_bidi_controls(*texts: str | None) -> bool:
    return any(text and _CONTROL.search(text) for text in texts)


def bidi_controls(text: str | None) -> list[str]:
    """The controls in `text`, each once, as "U+202E RIGHT-TO-LEFT OVERRIDE", in order."""
    found = dict.fromkeys(_CONTROL.findall(text or ""))
    return [f"U+{ord(c):04X} {unicodedata.name(c, 'DIRECTIONAL CONTROL')}" for c in found]


_ISOLATE_INITIATORS = "\u2066\u2067\u2068"


def isolate(text: str | None) -> str:
    """`text` between FIRST STRONG ISOLATE and POP DIRECTIONAL ISOLATE, for plain text (a
    page title, a select option, a sentence in an API message): it keeps its own direction
    without reordering what is around it. The wrapping is balanced against the text's own
    isolates (the text itself is left as entered): an isolate it leaves open is closed
    before the final PDI, and each PDI it has too many gets an FSI of its own to close, so
    neither can end the isolation early."""
    text = text or ""
    open_, stray = 0, 0
    for char in text:
        if char in _ISOLATE_INITIATORS:
            open_ += 1
        elif char == PDI:
            if open_:
                open_ -= 1
            else:
                stray += 1
    return f"{FSI * (1 + stray)}{text}{PDI * (1 + open_)}"
