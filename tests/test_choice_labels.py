"""The lists show a case's kind and status through the ``label`` filter (a table of the
field's labels per language, issue 16): the same words ``get_FOO_display`` gives, in the
person's language."""

from django.template import Context, Template
from django.utils import translation

from cases.models import Case


def rendered(case: Case) -> str:
    template = Template('{% load choice_labels %}{{ case|label:"kind" }}|{{ case|label:"status" }}')
    return template.render(Context({"case": case}))


def test_the_label_is_the_display_in_each_language_and_the_value_when_unknown():
    case = Case(kind=Case.Kind.OBJECTION, status=Case.Status.NOT_ACCEPTED)
    for language in ("en", "zh-hans"):
        with translation.override(language):
            assert rendered(case) == f"{case.get_kind_display()}|{case.get_status_display()}"
    with translation.override("zh-hans"):
        chinese = rendered(case)
    with translation.override("en"):
        assert rendered(case) != chinese  # a table per language, not the first one asked
    case.status = "no_such_status"
    assert rendered(case).endswith("|no_such_status")
