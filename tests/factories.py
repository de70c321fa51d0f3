"""factory_boy factories: one line per fact that matters to a test."""

import datetime
import itertools

import factory
from django.contrib.auth import get_user_model

from cases.identifiers import make_resident_id, make_uscc
from cases.models import (
    Agency,
    ListType,
    Membership,
    Platform,
    Publication,
    Record,
    Representation,
    Role,
    StaffProfile,
    Subject,
)

_org_bodies = (f"{n:08d}" for n in itertools.count(10_000_000))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.django.Password("pw")


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"AG{n}")
    name = factory.Sequence(lambda n: f"测试市场监督管理局{n}")
    name_en = factory.Sequence(lambda n: f"Test Market Regulation Bureau {n}")
    region_code = "440300"
    reconsideration_body = "深圳市人民政府"
    court = "深圳市福田区人民法院"


class PlatformFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Platform
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"platform{n}")
    name = factory.Sequence(lambda n: f"Platform {n}")
    kind = Platform.Kind.CREDIT_CHINA


class SubjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subject

    kind = Subject.Kind.LEGAL
    code = factory.LazyFunction(lambda: make_uscc(org_body=next(_org_bodies)))
    name = factory.Sequence(lambda n: f"深圳测试科技有限公司{n}")


class PersonFactory(SubjectFactory):
    kind = Subject.Kind.NATURAL
    code = factory.Sequence(
        lambda n: make_resident_id(
            region="440304", birth=datetime.date(1980, 1, 1), sequence=n % 1000
        )
    )
    name = factory.Sequence(lambda n: f"张三{n}")


def list_type(code: str = "penalty_publication") -> ListType:
    """The seeded list type (the data migration creates all five)."""
    return ListType.objects.get(code=code)


class RecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Record
        skip_postgeneration_save = True

    list_type = factory.LazyFunction(list_type)
    subject = factory.SubFactory(SubjectFactory)
    agency = factory.SubFactory(AgencyFactory, code="SZAMR")
    decision_no = factory.Sequence(lambda n: f"深市监罚〔2025〕{n}号")
    legal_basis = "《中华人民共和国行政处罚法》"
    severity = "general"
    penalty_type = "fine"
    listed_on = datetime.date(2025, 1, 6)
    restorable_from = factory.LazyAttribute(lambda r: r.listed_on + datetime.timedelta(days=92))
    expires_on = factory.LazyAttribute(lambda r: r.listed_on + datetime.timedelta(days=365))
    status = Record.Status.ACTIVE

    @factory.post_generation
    def published_on(self, create, platforms, **kwargs):
        for platform in platforms or ():
            Publication.objects.create(record=self, platform=platform, published_on=self.listed_on)


def officer(
    role: str, agency: Agency, username: str | None = None, *, qualified: bool = True, **kwargs
):
    """A user holding ``role`` at ``agency``; a legal reviewer with the legal professional
    qualification on record unless ``qualified=False`` (APL Art. 58 ¶2)."""
    user = UserFactory(username=username or f"{role}-{agency.code}".lower(), **kwargs)
    Membership.objects.get_or_create(user=user, agency=agency, role=role)
    user.__dict__.pop("_redress_roles", None)
    if role == Role.LEGAL_REVIEWER and qualified:
        legal_qualification(user)
    return user


def legal_qualification(user, number: str = "A20184403041234") -> StaffProfile:
    """``user``'s legal professional qualification, on record since 2025-01-02."""
    profile, _ = StaffProfile.objects.update_or_create(
        user=user,
        defaults={
            "legal_qualification_no": number,
            "legal_qualification_recorded_on": datetime.date(2025, 1, 2),
        },
    )
    return profile


def representative(subject: Subject, username: str | None = None, *, confirmed: bool = True):
    """A user confirmed (by default) as acting for ``subject``."""
    import django.utils.timezone as tz

    user = UserFactory(username=username or f"rep-{subject.code[-6:]}".lower())
    Representation.objects.get_or_create(
        user=user, subject=subject, defaults={"confirmed_at": tz.now() if confirmed else None}
    )
    return user
