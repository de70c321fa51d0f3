"""``python manage.py demo``: a ready-to-use demo on the current database.

Agencies (SZAMR among them), platforms, a few hundred subjects and records, cases in
several states driven through the route (``workflows.actions``) as people drive them,
and one user per role with the password ``demo``. Refuses to run with DEBUG off unless
--force.
"""

import datetime
import io
import os
import random
import secrets
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from pypdf import PdfWriter

from cases import classification
from cases.identifiers import make_resident_id, make_uscc
from cases.models import (
    REVOCATION_DECISION_LIST,
    Agency,
    Case,
    Evidence,
    ListType,
    Material,
    Measure,
    Membership,
    PenaltyType,
    Platform,
    Publication,
    PublicationDefault,
    Record,
    Representation,
    Role,
    Sector,
    StaffProfile,
    Subject,
)
from cases.publications import default_measures, default_platforms, kind_duties
from cases.rules import rule_set_in_force
from cases.seeds import APPLIED_BY_EN
from notifications.models import Message
from workflows import actions
from workflows.flows import FLOWS
from workflows.metrics import metrics_refresh

PASSWORD = "demo"  # noqa: S105 - printed for the demo users; DEBUG-only command

# (code, name, English name, region, sector): the market regulators follow SAMR Order 107,
# the tax bureau the national rules (Order 36), 《信用修复管理办法》第十一条.
AGENCIES = [
    (
        "SZAMR",
        "深圳市市场监督管理局",
        "Shenzhen Administration for Market Regulation",
        "440300",
        Sector.MARKET_REGULATION,
    ),
    ("SZTAX", "国家税务总局深圳市税务局", "Shenzhen Tax Service, SAT", "440300", Sector.TAX),
    (
        "GZAMR",
        "广州市市场监督管理局",
        "Guangzhou Administration for Market Regulation",
        "440100",
        Sector.MARKET_REGULATION,
    ),
]
# Which demo agency keeps which list: the abnormal-operations and serious lists are market
# regulation's (SAMR Order 44; 《企业经营异常名录管理办法》), the tax bureau's blacklist is
# a sector's; the court debtor list has no court among the demo agencies, so none is drawn.
DEMO_LISTS = {
    "penalty_publication": ["SZAMR", "SZAMR", "SZTAX", "GZAMR"],
    "abnormal_operations": ["SZAMR", "GZAMR"],
    "serious_dishonesty": ["SZAMR", "GZAMR"],
    "sector_blacklist": ["SZTAX"],
}
# Reconsideration bodies (Administrative Reconsideration Law Arts. 24-27): a city's
# market regulator goes to the city government (Art. 24); the tax bureau is vertically
# managed and goes to the next authority up, the State Taxation Administration (Art. 27).
DEMO_REMEDY_BODIES = {
    "SZAMR": ("深圳市人民政府", "Shenzhen Municipal People's Government"),
    "SZTAX": ("国家税务总局", "State Taxation Administration"),
    "GZAMR": ("广州市人民政府", "Guangzhou Municipal People's Government"),
}
# The court for a suit (Administrative Litigation Law Art. 18), by the agency's region.
DEMO_COURTS = {
    "440300": ("深圳市福田区人民法院", "Shenzhen Futian District People's Court"),
    "440100": ("广州市越秀区人民法院", "Guangzhou Yuexiu District People's Court"),
}
# How each agency numbers its decisions (文号).
DEMO_NUMBER_PATTERNS = {
    "SZAMR": "深市监信修〔{year}〕{seq}号",
    "SZTAX": "深税信修〔{year}〕{seq}号",
    "GZAMR": "穗市监信修〔{year}〕{seq}号",
}
PLATFORMS = [
    ("creditchina", "信用中国", "Credit China", Platform.Kind.CREDIT_CHINA),
    (
        "creditsz",
        "信用中国（广东深圳）",
        "Credit China (Shenzhen)",
        Platform.Kind.CREDIT_CHINA_LOCAL,
    ),
    (
        "gsxt",
        "国家企业信用信息公示系统",
        "National Enterprise Credit Information Publicity System",
        Platform.Kind.NECIPS,
    ),
    # A third-party credit service agency that re-publishes records (Order 36 Art. 24).
    (
        "thirdparty",
        "某信用服务机构（演示）",
        "A third-party credit agency (demo)",
        Platform.Kind.THIRD_PARTY,
    ),
]
# The management measures of the serious violations list (《市场监督管理严重违法失信名单管理
# 办法》第十五条), in the demo applied through NECIPS: a repair asks it to lift each.
DEMO_MEASURES = [
    (
        "samr_key_supervision",
        "列为重点监管对象，提高检查频次",
        "Key supervision: more frequent inspections",
        "《市场监督管理严重违法失信名单管理办法》第十五条第（二）项",
    ),
    (
        "samr_no_commitment",
        "不适用告知承诺制",
        "No notification-and-commitment procedure",
        "《市场监督管理严重违法失信名单管理办法》第十五条第（三）项",
    ),
    (
        "samr_no_honours",
        "不予授予市场监督管理部门荣誉称号等表彰奖励",
        "No honours of market regulation authorities",
        "《市场监督管理严重违法失信名单管理办法》第十五条第（四）项",
    ),
]
# Where the reference platforms listen (``manage.py platform_receiver``, started by
# scripts/serve on REDRESS_RECEIVER_PORT, 8765 by default): each demo platform's webhook URL
# points there.
RECEIVER_PORT = "8765"


def receiver_url() -> str:
    """The reference platforms' base URL, on the port scripts/serve starts them on."""
    return f"http://127.0.0.1:{os.environ.get('REDRESS_RECEIVER_PORT') or RECEIVER_PORT}"


COMPANY_WORDS = [
    "华",
    "信",
    "达",
    "盛",
    "鹏",
    "海",
    "科",
    "瑞",
    "博",
    "通",
    "安",
    "恒",
    "兴",
    "联",
    "创",
    "源",
]
INDUSTRY = ["科技", "贸易", "食品", "电子", "物流", "建筑", "医药", "环保"]
SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"]
GIVEN = ["伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "军"]


def _one_page_pdf() -> bytes:
    """A valid blank one-page PDF: demo evidence must pass the upload check (which reads
    the PDF's structure), and needs nothing more."""
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


DEMO_PDF = _one_page_pdf()


class Command(BaseCommand):
    help = "Load demo data: agencies, platforms, subjects, records, cases and one user per role."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off.")
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing if the demo was loaded already."
        )
        parser.add_argument("--subjects", type=int, default=300)
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument(
            "--receiver-url",
            default=receiver_url(),
            help=(
                "Base URL of the reference platforms (platform_receiver); '' for none. "
                "Default: 127.0.0.1 on REDRESS_RECEIVER_PORT (8765)."
            ),
        )

    def handle(self, *args, force, if_empty, subjects, seed, receiver_url, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "DEBUG is off: this looks like a production database. The demo adds users with "
                "a known password; run with --force if you really mean it."
            )
        User = get_user_model()
        if User.objects.filter(username="acme").exists():
            if if_empty:
                self.stdout.write("Demo data already loaded.")
                self._print_logins()
                return
            raise CommandError("Demo data is already loaded (user 'acme' exists).")
        self.shown = {}  # decision number -> (published at all, on Credit China)
        rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
        with transaction.atomic():
            agencies = self._agencies()
            platforms = self._platforms(receiver_url)
            users = self._users(agencies)
            acme, globex, records = self._subjects_and_records(rng, agencies, platforms, subjects)
            self._representations(users, acme, globex, users["admin"])
        self._cases(rng, users, acme, globex, records)
        # The worker sums the supervisors' figures every REDRESS_METRICS_REFRESH_SECONDS (15
        # minutes); a newcomer opening "Figures of the agency" should not wait for the first.
        metrics_refresh()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo loaded: {Agency.objects.count()} agencies, {Platform.objects.count()} platforms, "
                f"{Subject.objects.count()} subjects, {Record.objects.count()} records, "
                f"{Case.objects.count()} cases."
            )
        )
        self._print_logins()

    def _print_logins(self):
        self.stdout.write(
            "Logins (password 'demo'): acme and globex (entity representatives); intake, reviewer, "
            "legal, signer, signer2, supervisor (officers of SZAMR); auditor; admin."
        )

    def _agencies(self):
        agencies = {}
        for code, name, name_en, region, sector in AGENCIES:
            agencies[code], _ = Agency.objects.get_or_create(
                code=code,
                defaults={
                    "sector": sector,
                    "name": name,
                    "name_en": name_en,
                    "region_code": region,
                    "reconsideration_body": DEMO_REMEDY_BODIES[code][0],
                    "reconsideration_body_en": DEMO_REMEDY_BODIES[code][1],
                    "court": DEMO_COURTS[region][0],
                    "court_en": DEMO_COURTS[region][1],
                    "document_number_pattern": DEMO_NUMBER_PATTERNS[code],
                },
            )
        return agencies

    def _platforms(self, receiver_url: str = ""):
        return [
            Platform.objects.get_or_create(
                code=code,
                defaults={
                    "name": name,
                    "name_en": name_en,
                    "kind": kind,
                    **kind_duties(kind),
                    "webhook_secret": secrets.token_urlsafe(48),
                    "webhook_url": f"{receiver_url.rstrip('/')}/{code}/webhook"
                    if receiver_url
                    else "",
                },
            )[0]
            for code, name, name_en, kind in PLATFORMS
        ]

    def _users(self, agencies):
        User = get_user_model()
        users = {}

        def make(username, first, last, email=None, **extra):
            user = User.objects.create_user(
                username,
                email or f"{username}@demo.redress.invalid",
                PASSWORD,
                first_name=first,
                last_name=last,
                **extra,
            )
            users[username] = user
            return user

        make("admin", "System", "Administrator", is_staff=True, is_superuser=True)
        szamr = agencies["SZAMR"]
        for username, first, last, roles in [
            ("intake", "立案", "王", [Role.INTAKE]),
            ("reviewer", "审查", "李", [Role.CASE_OFFICER]),
            ("legal", "法审", "张", [Role.LEGAL_REVIEWER]),
            ("signer", "签发", "刘", [Role.SIGNER]),
            ("signer2", "签发", "陈", [Role.SIGNER]),
            ("supervisor", "主管", "杨", [Role.SUPERVISOR, Role.INTAKE, Role.CASE_OFFICER]),
        ]:
            user = make(username, first, last)
            for role in roles:
                Membership.objects.create(user=user, agency=szamr, role=role)
            if Role.LEGAL_REVIEWER in roles:
                # APL Art. 58 ¶2: a legal reviewer acts with the qualification on record.
                StaffProfile.objects.create(
                    user=user,
                    legal_qualification_no="A20184403000001",
                    legal_qualification_recorded_on=datetime.date(2025, 1, 2),
                )
        auditor = make("auditor", "审计", "赵")
        for agency in agencies.values():
            Membership.objects.create(user=auditor, agency=agency, role=Role.AUDITOR)
        make("acme", "Alice", "Acme")
        make("globex", "George", "Globex")
        return users

    def _subjects_and_records(self, rng, agencies, platforms, count):
        # Revocation decisions are written by the route, not listed by agencies.
        list_types = {lt.code: lt for lt in ListType.objects.exclude(code=REVOCATION_DECISION_LIST)}
        acme = Subject.objects.create(
            kind=Subject.Kind.LEGAL,
            code=make_uscc(org_body="MA5ACME1"),
            name="深圳市艾可美科技有限公司",
        )
        globex = Subject.objects.create(
            kind=Subject.Kind.LEGAL,
            code=make_uscc(org_body="MA5GLBX2"),
            name="深圳市环球贸易有限公司",
        )
        subjects = [acme, globex]
        for n in range(count):
            if n % 5 == 4:
                subjects.append(
                    Subject(
                        kind=Subject.Kind.NATURAL,
                        code=make_resident_id(
                            region="440304",
                            birth=datetime.date(1960 + n % 40, 1 + n % 12, 1 + n % 28),
                            sequence=n % 1000,
                        ),
                        name=rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                    )
                )
            else:
                subjects.append(
                    Subject(
                        kind=Subject.Kind.LEGAL,
                        code=make_uscc(
                            region=rng.choice(["440300", "440100", "440304"]),
                            org_body=f"MA5{n:05d}",
                        ),
                        name="深圳市"
                        + "".join(rng.sample(COMPANY_WORDS, 2))
                        + rng.choice(INDUSTRY)
                        + "有限公司",
                    )
                )
        Subject.objects.bulk_create(subjects[2:])
        subjects = list(Subject.objects.order_by("pk"))
        today = timezone.localdate()
        records = []
        n = 0
        for subject in subjects:
            for _ in range(rng.choice([1, 1, 2])):
                n += 1
                # The abnormal-operations and serious lists are of market entities (the
                # demo's natural persons have published penalties and sector listings).
                list_code = rng.choice(
                    list(DEMO_LISTS)
                    if subject.kind == Subject.Kind.LEGAL
                    else ["penalty_publication", "sector_blacklist"]
                )
                agency = agencies[rng.choice(DEMO_LISTS[list_code])]
                listed_on = today - datetime.timedelta(days=rng.randint(20, 900))
                fine_amount = None
                if list_code == "penalty_publication":
                    penalty = rng.choice(
                        ["fine", "fine", "fine", "warning", "confiscation", "licence_revocation"]
                    )
                    if penalty == "fine":
                        fine_amount = Decimal(rng.choice([2000, 8000, 30000, 80000, 200000]))
                else:
                    penalty = PenaltyType.LISTING
                records.append(
                    self._record(
                        list_types[list_code],
                        subject,
                        agency,
                        n,
                        listed_on,
                        None,
                        penalty,
                        fine_amount=fine_amount,
                    )
                )
        # Records the two demo companies can act on, whatever the random draw gave.
        szamr = agencies["SZAMR"]
        records += [
            self._record(
                list_types["penalty_publication"],
                acme,
                szamr,
                9001,
                today - datetime.timedelta(days=250),
                "general",
                PenaltyType.FINE,
            ),
            self._record(
                list_types["penalty_publication"],
                acme,
                szamr,
                9002,
                today - datetime.timedelta(days=200),
                "general",
                PenaltyType.FINE,
            ),
            self._record(
                list_types["abnormal_operations"],
                acme,
                szamr,
                9003,
                today - datetime.timedelta(days=10),
                None,
                PenaltyType.LISTING,
            ),
            self._record(
                list_types["penalty_publication"],
                globex,
                szamr,
                9004,
                today - datetime.timedelta(days=500),
                "serious",
                PenaltyType.FINE,
            ),
            self._record(
                list_types["serious_dishonesty"],
                globex,
                szamr,
                9005,
                today - datetime.timedelta(days=30),
                "serious",
                PenaltyType.LISTING,
            ),
            # Left for the newcomer to file: listed over a year ago, so a restoration can
            # be asked for now (SAMR Order 107 Art. 13, Order 44 Art. 16); on the serious
            # list, so it carries punishment measures, and deciding it shows all three
            # effects of a repair (Order 36 Art. 3), the measures lifted through NECIPS.
            self._record(
                list_types["serious_dishonesty"],
                acme,
                szamr,
                9006,
                today - datetime.timedelta(days=400),
                "serious",
                PenaltyType.LISTING,
            ),
        ]
        Record.objects.bulk_create(records)
        records = list(Record.objects.all())
        self._defaults_and_measures(agencies, platforms, list_types)
        # Every record is published on its agency's default platforms for its list type
        # (as an import with an empty platforms column), where the rules publish it at all
        # and, on Credit China, where they say so; it carries its list type's measures.
        defaults = {a.pk: default_platforms(a.pk) for a in agencies.values()}
        measures = default_measures()
        Publication.objects.bulk_create(
            [
                Publication(
                    record=r,
                    platform=p,
                    published_on=r.listed_on,
                    **(
                        {"status": Publication.Status.WITHDRAWN, "acknowledged_at": timezone.now()}
                        if r.status == Record.Status.EXPIRED
                        else {}
                    ),
                )
                for r in records
                for p in defaults[r.agency_id].get(r.list_type_id, [])
                if self.shown[r.decision_no][0]
                and (
                    self.shown[r.decision_no][1]
                    or p.kind not in (Platform.Kind.CREDIT_CHINA, Platform.Kind.CREDIT_CHINA_LOCAL)
                )
            ]
        )
        Record.measures.through.objects.bulk_create(
            [
                Record.measures.through(record_id=r.pk, measure_id=m.pk)
                for r in records
                for m in measures.get(r.list_type_id, [])
            ]
        )
        return acme, globex, {r.decision_no: r for r in records}

    def _defaults_and_measures(self, agencies, platforms, list_types):
        """Each agency's default platforms per list type (a local Credit China site only for
        its own region), and the measures of the serious violations list (SAMR Order 44
        Art. 15), applied through NECIPS in the demo."""
        PublicationDefault.objects.bulk_create(
            [
                PublicationDefault(agency=agency, list_type=list_type, platform=platform)
                for agency in agencies.values()
                for list_type in list_types.values()
                for platform in platforms
                if platform.kind != Platform.Kind.CREDIT_CHINA_LOCAL
                or agency.region_code == "440300"
            ],
            ignore_conflicts=True,
        )
        serious = list_types.get("serious_dishonesty")
        if serious is None:
            return
        for code, name, name_en, basis in DEMO_MEASURES:
            Measure.objects.get_or_create(
                list_type=serious,
                code=code,
                defaults={
                    "name": name,
                    "name_en": name_en,
                    "applied_by": "市场监督管理部门",
                    "applied_by_en": APPLIED_BY_EN["市场监督管理部门"],
                    "legal_basis": basis,
                },
            )
        Platform.objects.filter(code="gsxt").update(applies_measures=True)
        for platform in platforms:
            platform.refresh_from_db(fields=["applies_measures"])

    def _record(
        self, list_type, subject, agency, n, listed_on, severity, penalty, fine_amount=None
    ):
        """A record as the import would store it: its tier derived from the list, the
        penalty and the fine where the rules decide it (``cases.classification``), its
        periods under the version in force today from its decision date
        (docs/decisions/0020-rule-versions.md). A record past its maximum period was
        ended by the daily task before the demo's day: it is stored as expired, withdrawn
        from every platform (``cases.expiry``)."""
        natural = subject.kind == Subject.Kind.NATURAL
        today = timezone.localdate()
        if severity is None:
            limits = rule_set_in_force(
                list_type=list_type, severity="minor", on=today, agency=agency
            )
            severity = (
                classification.classify(
                    list_type=list_type.code,
                    penalty_types=[penalty],
                    fine_amount=fine_amount,
                    natural_person=natural,
                    minor_fine_limit_business=limits.minor_fine_limit_business,
                    minor_fine_limit_person=limits.minor_fine_limit_person,
                    market_regulation=limits.instrument == "samr107",
                ).tier
                or "general"
            )
        rule_set = rule_set_in_force(
            list_type=list_type, severity=severity, on=today, agency=agency
        )
        found = classification.periods(
            rule_set, start=listed_on, penalty_types=[penalty], natural_person=natural
        )
        restorable_from, expires_on = found.restorable_from, found.expires_on
        expired = expires_on is not None and expires_on < today
        # Where it is shown: not at all where the rules never publish it (a SAMR warning,
        # Order 107 Art. 7), and a natural person not on Credit China (Order 36 Art. 12).
        self.shown[f"{agency.code}罚〔{listed_on.year}〕{n}号"] = (
            found.published,
            found.on_credit_china,
        )
        return Record(
            list_type=list_type,
            subject=subject,
            agency=agency,
            decision_no=f"{agency.code}罚〔{listed_on.year}〕{n}号",
            legal_basis="《中华人民共和国行政处罚法》第二十八条",
            severity=severity,
            penalty_type=penalty,
            penalty_types=[penalty],
            fine_amount=fine_amount,
            decided_on=listed_on,
            listed_on=listed_on,
            restorable_from=restorable_from,
            expires_on=expires_on,
            status=Record.Status.EXPIRED if expired else Record.Status.ACTIVE,
        )

    def _representations(self, users, acme, globex, admin):
        now = timezone.now()
        Representation.objects.create(
            user=users["acme"], subject=acme, confirmed_at=now, confirmed_by=admin
        )
        Representation.objects.create(
            user=users["globex"], subject=globex, confirmed_at=now, confirmed_by=admin
        )

    def _cases(self, rng, users, acme, globex, records):
        """Cases in several states, each driven through the route as people would."""
        acme_user, globex_user = users["acme"], users["globex"]
        intake, reviewer = users["intake"], users["reviewer"]

        def record(n):
            return next(r for r in records.values() if r.decision_no.endswith(f"〕{n}号"))

        def step(case, node_name, user, **data):
            """Claim the case's open task at ``node_name`` and complete it, as an officer would."""
            node = getattr(FLOWS[case.kind].instance, node_name)
            task = actions.open_tasks(case)
            task = next(t for t in task if t.flow_task == node)
            actions.task_claim(task=task, user=user)
            actions.task_complete(task=task, user=user, data=data)

        def evidence(case, user, material, rec=None, name="material.pdf"):
            content = DEMO_PDF + f"% {case.reference} {material} {rec and rec.pk}\n".encode()
            return actions.evidence_add(
                case=case,
                uploaded_by=user,
                upload=ContentFile(content, name=name),
                material=material,
                record=rec,
            )

        # 1. A restoration waiting at the acceptance check, materials complete.
        r1 = record(9001)
        c1 = actions.case_submit(
            kind=Case.Kind.RESTORATION,
            subject=acme,
            records=[r1],
            grounds="罚款已缴清，违法行为已整改完毕，申请提前停止公示。",
            applicant=acme_user,
        )
        evidence(c1, acme_user, Material.COMMITMENT_LETTER, r1, "信用承诺书.pdf")
        evidence(c1, acme_user, Material.FULFILMENT_PROOF, r1, "缴款凭证.pdf")

        # 2. An objection under evidence review.
        r3 = record(9003)
        c2 = actions.case_submit(
            kind=Case.Kind.OBJECTION,
            subject=acme,
            records=[r3],
            grounds="我司已于规定期限内报送年度报告，列入经营异常名录有误。",
            applicant=acme_user,
        )
        evidence(c2, acme_user, Material.CORRECTION_EVIDENCE, r3, "年报回执.pdf")
        step(c2, "acceptance_check", intake, decision="accept", note="材料齐全，予以受理。")

        # 3. A serious restoration waiting for missing materials (clock stopped).
        r4 = record(9004)
        c3 = actions.case_submit(
            kind=Case.Kind.RESTORATION,
            subject=globex,
            records=[r4],
            grounds="已履行行政处罚决定，申请信用修复。",
            applicant=globex_user,
        )
        evidence(c3, globex_user, Material.COMMITMENT_LETTER, r4, "承诺书.pdf")
        step(
            c3,
            "acceptance_check",
            intake,
            decision="request_materials",
            missing=[{"material": Material.FULFILMENT_PROOF, "detail": "罚款缴纳凭证"}],
            note="请一次性补正以下材料。",
        )

        # 4. A restoration approved and signed; platforms are withdrawing the record.
        r2 = record(9002)
        c4 = actions.case_submit(
            kind=Case.Kind.RESTORATION,
            subject=acme,
            records=[r2],
            grounds="已整改并完成信用修复培训。",
            applicant=acme_user,
        )
        for material in (Material.COMMITMENT_LETTER, Material.FULFILMENT_PROOF):
            evidence(c4, acme_user, material, r2, f"{material}.pdf")
        step(c4, "acceptance_check", intake, decision="accept")
        step(
            c4,
            "evidence_review",
            reviewer,
            reviews=[
                {"evidence": item.pk, "outcome": Evidence.Outcome.ACCEPTED}
                for item in c4.evidence.all()
            ],
            recommendation=Case.Decision.APPROVED,
            note="材料真实有效，建议准予修复。",
        )
        c4.refresh_from_db()
        if c4.status == Case.Status.LEGAL_REVIEW:
            step(c4, "legal_review", users["legal"], decision="pass")
        step(c4, "sign_off", users["signer"], decision=Case.Decision.APPROVED)
        # The third-party agency acknowledged at once; the reference platforms run with
        # its copy stale (scripts/demo), so its holdings report shows the record still
        # there: the supervisors' reconciliation page has something true to show.
        first = (
            r2.publications.filter(platform__code="thirdparty").first() or r2.publications.first()
        )
        if first is not None:
            actions.publication_acknowledge(publication=first, note="已撤下公示")
            Message.objects.filter(
                case=c4, platform=first.platform, kind="record_withdrawal_requested"
            ).update(
                status=Message.Status.SENT,
                sent_at=timezone.now(),
                acknowledged_at=timezone.now(),
            )

        # 5. A withdrawn objection and 6. one not accepted, from other subjects.
        others = [
            r
            for r in records.values()
            if r.subject_id not in {acme.pk, globex.pk}
            and r.agency.code == "SZAMR"
            and r.list_type.code != "abnormal_operations"  # its 30-day objection window
            and r.status == Record.Status.ACTIVE
        ]
        rng.shuffle(others)
        for rec, outcome in zip(others, ["withdrawn", "not_accepted"], strict=False):
            user = get_user_model().objects.create_user(
                f"rep{rec.subject_id}", f"rep{rec.subject_id}@demo.redress.invalid", PASSWORD
            )
            Representation.objects.create(
                user=user,
                subject=rec.subject,
                confirmed_at=timezone.now(),
                confirmed_by=users["admin"],
            )
            case = actions.case_submit(
                kind=Case.Kind.OBJECTION,
                subject=rec.subject,
                records=[rec],
                grounds="该记录信息有误。",
                applicant=user,
            )
            if outcome == "withdrawn":
                actions.case_withdraw(case=case, applicant=user, reason="已与执法部门沟通。")
            else:
                step(
                    case,
                    "acceptance_check",
                    intake,
                    decision="not_accept",
                    reasons="异议申请超出本机关职责范围。",
                )
                if any(t.flow_task.name == "refusal_approval" for t in actions.open_tasks(case)):
                    # SAMR Order 107 Art. 14(3): the head approves a non-acceptance.
                    step(case, "refusal_approval", users["signer"], decision="approve")
