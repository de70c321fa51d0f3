"""``{% repair_progress record as platforms %}``: where the repair of a record stands on
each platform, effect by effect, in plain words (decision 0024).

Each item is ``(platform name, [(what, where it stands, done)])``, for the platforms
asked to withdraw the record; empty when none was.
"""

from django import template

from cases.models import Publication
from cases.publications import effect_state, effect_words, platform_name

register = template.Library()

ASKED = (Publication.Status.WITHDRAWAL_REQUESTED, Publication.Status.WITHDRAWN)


@register.simple_tag
def repair_progress(record) -> list[tuple[str, list[tuple[str, str, bool]]]]:
    progress = []
    publications = (
        record.publications.filter(status__in=ASKED)
        .select_related("platform")
        .prefetch_related("effects__measure", "effects__deadline")
        .order_by("platform__code")
    )
    for publication in publications:
        effects = [
            (effect_words(e), effect_state(e), e.acknowledged_at is not None)
            for e in publication.effects.all()
        ]
        if effects:
            progress.append((platform_name(publication.platform), effects))
    return progress
