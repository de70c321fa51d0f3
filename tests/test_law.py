"""Citations render as a Chinese decision writes them, and in English."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from cases.law import INSTRUMENTS, Citation, chinese_numeral, citations_render, cite
from cases.models import ListType, RuleSet


@pytest.mark.parametrize(
    "n, text",
    [
        (1, "一"),
        (10, "十"),
        (12, "十二"),
        (20, "二十"),
        (25, "二十五"),
        (100, "一百"),
        (105, "一百零五"),
        (110, "一百一十"),
    ],
)
def test_article_numbers_are_written_in_chinese_numerals(n, text):
    assert chinese_numeral(n) == text


def test_a_citation_names_the_instrument_article_paragraph_and_item():
    citation = Citation.parse(cite("ndrc36", 10, 1, 2))
    assert citation.zh == "《信用修复管理办法》第十条第一款第（二）项"
    assert citation.en == "Credit Restoration Measures (NDRC Order No. 36), Art. 10(1), item 2"


def test_several_citations_join_in_the_readers_language():
    data = [cite("samr107", 8), cite("ndrc36", 11)]
    assert citations_render(data, "zh-hans") == (
        "《市场监督管理信用修复管理办法》第八条；《信用修复管理办法》第十一条"
    )
    assert citations_render(data, "en").startswith("Market Regulation Credit Restoration")


def test_articles_of_one_instrument_name_it_once():
    data = [cite("samr44", 11), cite("samr44", 12, 2), cite("samr44", 13), cite("ndrc36", 11)]
    assert citations_render(data, "zh-hans") == (
        "《市场监督管理严重违法失信名单管理办法》第十一条、第十二条第二款、第十三条；"
        "《信用修复管理办法》第十一条"
    )
    english = citations_render(data, "en")
    assert english.count("Order No. 44") == 1
    assert (
        ", Arts. 11, 12(2), 13; Credit Restoration Measures (NDRC Order No. 36), Art. 11" in english
    )


def test_order_58_is_repealed_the_day_order_36_takes_effect():
    assert INSTRUMENTS["ndrc58"].in_force_on(datetime.date(2026, 3, 31))
    assert not INSTRUMENTS["ndrc58"].in_force_on(datetime.date(2026, 4, 1))
    assert INSTRUMENTS["ndrc36"].in_force_on(datetime.date(2026, 4, 1))


@pytest.mark.parametrize("bad", [{"instrument": "nope", "article": 1}, {"instrument": "ndrc36"}])
def test_a_citation_of_an_unknown_instrument_or_without_article_is_refused(bad):
    with pytest.raises(ValueError):
        Citation.parse(bad)


def test_a_rule_set_refuses_citations_of_fields_it_does_not_have(db):

    rule_set = RuleSet(
        list_type=ListType.objects.get(code="penalty_publication"),
        severity="general",
        version=99,
        effective_from=datetime.date(2026, 4, 1),
        min_publication_months=3,
        citations={"no_such_field": [cite("ndrc36", 12)]},
    )
    with pytest.raises(ValidationError, match="no_such_field"):
        rule_set.full_clean()
