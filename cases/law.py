"""The legal instruments Redress applies, and citations of their articles.

Rule versions (``cases.models.RuleSet``) are data; each value they carry names the
article it comes from as a structured citation, ``{"instrument": "ndrc36",
"article": 16, "paragraph": 2}``, stored in ``RuleSet.citations`` under the
field's name. This module knows each instrument's titles and dates and renders a
citation the way a Chinese decision writes it (《信用修复管理办法》第十六条第二款)
and in English (Credit Restoration Measures (NDRC Order No. 36), Art. 16(2)).

The instruments and their dates are the texts in ``shared/law`` as read in its
GUIDE.md (§1, source register).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils.translation import get_language


@dataclass(frozen=True)
class Instrument:
    code: str
    title: str  # the Chinese title, without book-title marks
    title_en: str
    number: str  # issuer and number, e.g. 国家发展改革委令第36号
    number_en: str
    in_force_from: datetime.date | None
    repealed_on: datetime.date | None = None  # first day it no longer applies

    def in_force_on(self, day: datetime.date) -> bool:
        started = self.in_force_from is None or self.in_force_from <= day
        return started and (self.repealed_on is None or day < self.repealed_on)


INSTRUMENTS: dict[str, Instrument] = {
    i.code: i
    for i in (
        Instrument(
            "ndrc36",
            "信用修复管理办法",
            "Credit Restoration Measures",
            "国家发展改革委令第36号",
            "NDRC Order No. 36",
            datetime.date(2026, 4, 1),
        ),
        Instrument(
            "ndrc58",
            "失信行为纠正后的信用信息修复管理办法（试行）",
            "Measures on Restoring Credit Information after Dishonest Conduct Is Corrected (Trial)",
            "国家发展改革委令第58号",
            "NDRC Order No. 58",
            datetime.date(2023, 5, 1),
            repealed_on=datetime.date(2026, 4, 1),  # Order 36 Art. 30
        ),
        Instrument(
            "samr107",
            "市场监督管理信用修复管理办法",
            "Market Regulation Credit Restoration Measures",
            "国家市场监督管理总局令第107号",
            "SAMR Order No. 107",
            datetime.date(2025, 12, 25),
        ),
        Instrument(
            "samr44",
            "市场监督管理严重违法失信名单管理办法",
            "Measures on the Market Regulation List of Seriously Illegal and Dishonest Entities",
            "国家市场监督管理总局令第44号",
            "SAMR Order No. 44",
            datetime.date(2021, 9, 1),
        ),
        Instrument(
            "abnormal",
            "企业经营异常名录管理办法",
            "Measures on the List of Enterprises with Abnormal Operations",
            "国家工商行政管理总局令第68号，国家市场监督管理总局令第101号修订",
            "SAIC Order No. 68, as revised by SAMR Order No. 101",
            datetime.date(2014, 10, 1),
        ),
        Instrument(
            "disclosure",
            "企业信息公示暂行条例",
            "Interim Regulations on Enterprise Information Disclosure",
            "国务院令第654号，2024年修订",
            "State Council Order No. 654, revised 2024",
            datetime.date(2014, 10, 1),
        ),
        Instrument(
            "spc_debtors",
            "最高人民法院关于公布失信被执行人名单信息的若干规定",
            "SPC Provisions on Publishing the List of Dishonest Judgment Debtors",
            "法释〔2017〕7号",
            "Judicial Interpretation No. 7 [2017]",
            datetime.date(2017, 5, 1),
        ),
        Instrument(
            "apl",
            "中华人民共和国行政处罚法",
            "Administrative Penalties Law of the PRC",
            "2021年修订",
            "2021 revision",
            datetime.date(2021, 7, 15),
        ),
        Instrument(
            "arl",
            "中华人民共和国行政复议法",
            "Administrative Reconsideration Law of the PRC",
            "2023年修订",
            "2023 revision",
            datetime.date(2024, 1, 1),
        ),
        Instrument(
            "all",
            "中华人民共和国行政诉讼法",
            "Administrative Litigation Law of the PRC",
            "2017年修正",
            "2017 amendment",
            datetime.date(2017, 7, 1),
        ),
    )
}

INSTRUMENT_CHOICES = [(i.code, f"《{i.title}》（{i.number}）") for i in INSTRUMENTS.values()]

_DIGITS = "零一二三四五六七八九"


def chinese_numeral(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十, 105 → 一百零五 (as articles are numbered)."""
    if n <= 0 or n >= 1000:
        raise ValueError(f"article numbers run from 1 to 999, not {n}")
    hundreds, rest = divmod(n, 100)
    tens, units = divmod(rest, 10)
    out = ""
    if hundreds:
        out += _DIGITS[hundreds] + "百"
        if rest and tens == 0:
            return out + "零" + _DIGITS[units]
    if tens:
        out += ("" if tens == 1 and not hundreds else _DIGITS[tens]) + "十"
    if units:
        out += _DIGITS[units]
    return out


@dataclass(frozen=True)
class Citation:
    """One article (and optionally its paragraph and item) of one instrument."""

    instrument: str
    article: int
    paragraph: int | None = None
    item: int | None = None

    @classmethod
    def parse(cls, data: dict) -> Citation:
        if not isinstance(data, dict) or data.get("instrument") not in INSTRUMENTS:
            raise ValueError(f"not a citation of a known instrument: {data!r}")
        article = data.get("article")
        if not isinstance(article, int) or article < 1:
            raise ValueError(f"a citation needs an article number: {data!r}")
        return cls(data["instrument"], article, data.get("paragraph"), data.get("item"))

    def as_data(self) -> dict:
        data = {"instrument": self.instrument, "article": self.article}
        if self.paragraph:
            data["paragraph"] = self.paragraph
        if self.item:
            data["item"] = self.item
        return data

    @property
    def source(self) -> Instrument:
        return INSTRUMENTS[self.instrument]

    @property
    def zh(self) -> str:
        text = f"《{self.source.title}》第{chinese_numeral(self.article)}条"
        if self.paragraph:
            text += f"第{chinese_numeral(self.paragraph)}款"
        if self.item:
            text += f"第（{chinese_numeral(self.item)}）项"
        return text

    @property
    def en(self) -> str:
        text = f"{self.source.title_en} ({self.source.number_en}), Art. {self.article}"
        if self.paragraph:
            text += f"({self.paragraph})"
        if self.item:
            text += f", item {self.item}"
        return text

    def render(self, language: str | None = None) -> str:
        """The citation in the active (or given) language: Chinese unless English."""
        language = language or get_language() or "zh-hans"
        return self.en if language.startswith("en") else self.zh

    def __str__(self) -> str:
        return self.render()


def cite(instrument: str, article: int, paragraph: int | None = None, item: int | None = None):
    """A citation as stored in rule data: ``cite("ndrc36", 16, 2)``."""
    return Citation(instrument, article, paragraph, item).as_data()


def citations_render(data, language: str | None = None) -> str:
    """Stored citations (one dict or a list of them) joined for a reader; neighbours from
    the same instrument share its title once: 《企业经营异常名录管理办法》第十一条、第十二条,
    "Measures … (SAIC Order No. 68 …), Arts. 11, 12"."""
    items = data if isinstance(data, list) else [data] if data else []
    english = (language or get_language() or "").startswith("en")
    groups: list[list[Citation]] = []
    for citation in (Citation.parse(d) for d in items):
        if groups and groups[-1][0].instrument == citation.instrument:
            groups[-1].append(citation)
        else:
            groups.append([citation])
    return ("; " if english else "；").join(
        _group_en(group) if english else _group_zh(group) for group in groups
    )


def _group_zh(group: list[Citation]) -> str:
    first = group[0].zh
    title = f"《{group[0].source.title}》"
    return first + "".join("、" + c.zh.removeprefix(title) for c in group[1:])


def _group_en(group: list[Citation]) -> str:
    if len(group) == 1:
        return group[0].en
    source = group[0].source
    prefix = f"{source.title_en} ({source.number_en}), Art. "
    parts = [c.en.removeprefix(prefix).replace(", item", " item") for c in group]
    return f"{source.title_en} ({source.number_en}), Arts. {', '.join(parts)}"
