"""The admin in Chinese names the project's own models and columns in Chinese (issue 15, item 7).

An officer who set the admin to Chinese saw "Cases", "Evidence", "reference", "submitted at":
the models' names and columns were English, because they had no translatable verbose names.
Every model of the project's apps is walked: its name, its plural and each of its fields'
labels must translate, and every registered admin list is opened in Chinese and its column
headers read.
"""

import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation

from cases.events import case_lock, event_record
from cases.models import Case
from tests import factories
from workflows import actions

PROJECT_APPS = ["cases", "workflows", "documents", "notifications", "portal", "workspace", "api"]
HAN = re.compile(r"[\u4e00-\u9fff]")
COLUMN = re.compile(r'<th scope="col"[^>]*>(.*?)</th>', re.S)
TAG = re.compile(r"<[^>]+>")


def project_models():
    for label in PROJECT_APPS:
        try:
            config = apps.get_app_config(label)
        except LookupError:
            continue
        yield from config.get_models()


def chinese(name) -> bool:
    """Han characters, or (for a technical name such as SHA-256) a translation of its own."""
    with translation.override("en"):
        english = str(name)
    return bool(HAN.search(str(name))) or str(name) != english


def test_every_project_model_and_field_has_a_chinese_name():
    english = []
    with translation.override("zh-hans"):
        for model in project_models():
            meta = model._meta
            for what in (meta.verbose_name, meta.verbose_name_plural):
                if not chinese(what):
                    english.append(f"{meta.label}: {what}")
            for field in meta.get_fields():
                if field.auto_created and not field.concrete:
                    continue  # reverse relations are named on the other side
                if field.name == "id":
                    continue
                if not chinese(field.verbose_name):
                    english.append(f"{meta.label}.{field.name}: {field.verbose_name}")
    assert english == [], english[:40]


def test_every_project_app_has_a_chinese_name():
    """The admin's index heads each app's models with the app's name ("CASES", "WORKFLOW"
    were English in the Chinese admin)."""
    with translation.override("zh-hans"):
        english = [
            f"{label}: {apps.get_app_config(label).verbose_name}"
            for label in PROJECT_APPS
            if not HAN.search(str(apps.get_app_config(label).verbose_name))
        ]
    assert english == [], english


@pytest.fixture
def case(company, agency, applicant, platforms):
    """A case with a record and an event, so that lists show rows and so their columns."""
    record = factories.RecordFactory(
        subject=company, agency=agency, decision_no="深市监罚〔2025〕77号", published_on=platforms
    )
    case = actions.case_submit(
        kind=Case.Kind.OBJECTION,
        subject=company,
        records=[record],
        grounds="The fine was paid on the day.",
        applicant=applicant,
    )
    officer = factories.officer("case_officer", agency, username="officer-li")
    with transaction.atomic():
        event_record(case_lock(case), "accepted", actor=officer, role="case_officer")
    return case


@pytest.fixture
def chinese_admin(admin_client):
    admin_client.cookies["django_language"] = "zh-hans"
    return admin_client


def test_every_admin_list_shows_chinese_model_names_and_column_headers(chinese_admin, case):
    index = chinese_admin.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert index.status_code == 200
    assert "Redress 管理后台" in index.content.decode()  # not "Django 管理"
    english = []
    tables = 0
    for model in admin.site._registry:
        meta = model._meta
        if meta.app_label not in PROJECT_APPS:
            continue
        with translation.override("zh-hans"):
            plural = str(meta.verbose_name_plural)
        assert HAN.search(plural), meta.label
        assert plural.capitalize() in index.content.decode() or plural in index.content.decode()
        page = chinese_admin.get(
            reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"),
            HTTP_ACCEPT_LANGUAGE="zh-hans",
        )
        assert page.status_code == 200, meta.label
        content = page.content.decode()
        if 'id="result_list"' in content:
            tables += 1
            content = content[content.index('id="result_list"') :]
        for header in COLUMN.findall(content):
            text = TAG.sub("", header).strip()
            if text and not HAN.search(text):
                english.append(f"{meta.label}: {text}")
    assert english == [], english[:40]
    assert tables >= 8  # the fixture gives most lists rows, so their columns are read


# --- every section and model an administrator sees, third-party apps too -------------------

# Proper names that stay as they are in Chinese; anything else in Latin letters is English.
PROPER_NAMES = re.compile(r"\b(Redress|API|Webhook|IP|URL|ID|SHA-256|PDF|HTTP|Django)\b")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
CAPTION = re.compile(r"<caption>(.*?)</caption>", re.S)
MODEL_LINK = re.compile(r'<th scope="row" id="[^"]*">(.*?)</th>', re.S)
HEADING = re.compile(r"<h1[^>]*>(.*?)</h1>", re.S)
FILTER_TITLE = re.compile(r"<summary>(.*?)</summary>", re.S)
BREADCRUMBS = re.compile(r'<div class="breadcrumbs">(.*?)</div>', re.S)


def english_words(text: str) -> bool:
    """Latin words left once the proper names are taken out, and no Chinese beside them."""
    text = TAG.sub("", text).strip()
    if not text or HAN.search(text):
        return False
    return bool(LATIN_WORD.search(PROPER_NAMES.sub("", text)))


@pytest.fixture
def attempts(admin_user):
    """A row in each of django-axes' lists, so that their columns are read too."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    now = timezone.now()
    common = {"user_agent": "Firefox", "ip_address": "10.0.0.1", "username": "acme"}
    AccessAttempt.objects.create(
        **common, path_info="/accounts/login/", failures_since_start=3, attempt_time=now
    )
    AccessLog.objects.create(**common, path_info="/accounts/login/", attempt_time=now)
    AccessFailureLog.objects.create(**common, path_info="/accounts/login/", attempt_time=now)


def test_every_admin_section_model_and_list_an_administrator_opens_is_chinese(
    chinese_admin, case, attempts
):
    """The admin's index, each app's index and each list an administrator can open, for
    every registered app (django-axes' access attempts, viewflow's processes and tasks,
    auth's users and groups as well as ours): sections, model names, headings, breadcrumbs,
    filter titles and column headers are Chinese, but for proper names such as "Redress"."""

    def read(url: str) -> str:
        page = chinese_admin.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert page.status_code == 200, url
        return page.content.decode()

    english: list[str] = []

    def check(url: str, content: str, patterns) -> None:
        for pattern in patterns:
            for found in pattern.findall(content):
                if english_words(found):
                    english.append(f"{url}: {TAG.sub('', found).strip()}")

    index = read(reverse("admin:index"))
    check("index", index, (CAPTION, MODEL_LINK))
    app_labels = sorted({model._meta.app_label for model in admin.site._registry})
    for label in app_labels:
        url = reverse("admin:app_list", args=[label])
        check(url, read(url), (CAPTION, MODEL_LINK, HEADING, BREADCRUMBS))
    tables = 0
    for model in admin.site._registry:
        meta = model._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        content = read(url)
        check(url, content, (HEADING, BREADCRUMBS, FILTER_TITLE))
        if 'id="result_list"' in content:
            tables += 1
            check(url, content[content.index('id="result_list"') :], (COLUMN,))
    assert english == [], "\n".join(english[:60])
    assert {"axes", "viewflow", "auth", "cases"} <= set(app_labels)
    assert tables >= 12  # the axes lists and viewflow's among them


def test_the_admins_chooser_of_groups_and_permissions_speaks_chinese(chinese_admin):
    """The user form's two-list chooser is written by the admin's JavaScript; Django's own
    zh-Hans catalogue leaves its instructions and buttons English ("Choose all 组"), ours
    fills them in: the admin's catalogue view serves them in Chinese."""
    page = chinese_admin.get(reverse("admin:jsi18n"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200
    script = page.content.decode("unicode_escape")
    for english, chinese_text in (
        (
            'Choose %s by selecting them and then select the \\"Choose\\" arrow button.',
            "选中要添加的%s",
        ),
        ("Choose all %s", "全选%s"),
        ("Remove all %s", "移除全部%s"),
        ("(click to clear)", "（点击清除）"),
    ):
        assert chinese_text in script, english
