"""`{% load names %}`: user-entered names on pages, isolated and flagged (core.bidi).

- `{{ subject.legal_name|name }}`: the name in `<bdi>`, followed by a warning badge
  when it holds bidirectional control characters.
- `{{ subject.legal_name|isolated }}`: plain text between Unicode isolates, for places that
  take no markup (`<title>`)."""

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext

from core import bidi

register = template.Library()


@register.filter(name="name")
def name_html(value):
    text = "" if value is None else str(value)
    controls = bidi.bidi_controls(text)
    if not controls:
        return format_html("<bdi>{}</bdi>", text)
    explanation = gettext(
        "This name contains invisible characters that change the direction of text (%(controls)s): "
        "it may read differently from how it is stored and searched."
    ) % {"controls": ", ".join(controls)}
    return format_html(
        '<bdi class="bidi-flagged">{}</bdi> <span class="badge warn" data-testid="bidi-flag" title="{}">{}</span>',
        text,
        explanation,
        gettext("direction controls"),
    )


@register.filter
def isolated(value):
    return bidi.isolate("" if value is None else str(value))
