"""Forms of the entity portal: they check what a person typed, services decide the rest.

Every field has a label (rendered as a ``<label for>``) and, where it helps, a help
text; errors are the services' own messages where a service decides.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field

from django import forms
from django.conf import settings
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _

from cases.eligibility import Eligibility, restoration_eligibility
from cases.errors import RedressError
from cases.models import Appeal, Case, Material, Record, RuleSet, Subject
from cases.rules import (
    COMPLETION_MATERIALS,
    REORGANISATION_MATERIALS,
    SUBMITTABLE_RECORD_STATUSES,
    rule_set_for_record,
    temporary_restoration_refusal,
)

# --- accounts --------------------------------------------------------------------------------------


class SignUpForm(UserCreationForm):
    """Username, e-mail, password (Django's validators) and the language to write in."""

    email = forms.EmailField(
        label=_("E-mail address"),
        help_text=_("We send a link to this address; the account works once you follow it."),
    )
    language = forms.ChoiceField(
        label=_("Language"),
        choices=settings.LANGUAGES,
        help_text=_("The language of the portal and of the mails we send you."),
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(
                _("An account with this e-mail address exists already: sign in instead.")
            )
        return email


class VerificationResendForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"))


# --- proving the link to a subject ------------------------------------------------------------------


class RepresentationRequestForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("The subject is"),
        choices=[
            (Subject.Kind.LEGAL, _("A company or organisation (Unified Social Credit Code)")),
            (Subject.Kind.NATURAL, _("A natural person (resident ID number)")),
        ],
        initial=Subject.Kind.LEGAL,
        widget=forms.RadioSelect,
    )
    code = forms.CharField(
        label=_("Subject's code"),
        max_length=30,
        help_text=_(
            "The 18-character Unified Social Credit Code of the company, or the resident ID "
            "number of a natural person."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    proof = forms.FileField(
        label=_("Proof of authorisation"),
        help_text=_(
            "A letter of authorisation with the company's seal, or the business licence and "
            "your ID for a legal representative: PDF, PNG or JPEG."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg"}),
    )
    note = forms.CharField(
        label=_("Who you are for the subject"),
        required=False,
        max_length=500,
        help_text=_("For example: legal representative, or employee authorised by the board."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class RepresentationDecisionForm(forms.Form):
    CONFIRM = "confirm"
    REJECT = "reject"

    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[(CONFIRM, _("Confirm the link")), (REJECT, _("Reject"))],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("Reason (required to reject)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean(self):
        data = super().clean()
        if data.get("decision") == self.REJECT and not (data.get("reason") or "").strip():
            self.add_error("reason", _("State why the request is rejected."))
        return data


class InvitationForm(forms.Form):
    email = forms.EmailField(
        label=_("Colleague's e-mail address"),
        help_text=_("They sign up with this address and follow the link in the mail."),
    )


# --- filing a case -------------------------------------------------------------------------------------


@dataclass
class RecordGuide:
    """What the filing page says about one record: the rules in force and whether it can go."""

    record: Record
    rule_set: RuleSet | None = None
    rule_error: str = ""
    required: list[str] = field(default_factory=list)
    # Whether a restoration qualifies today, with the earliest date and the article: told
    # before filing, but no reason to refuse the filing (a person decides).
    eligibility: Eligibility | None = None
    restoration_refusal: str = ""
    objection_until: datetime.date | None = None
    objection_refusal: str = ""
    reorganisation_refusal: str = ""
    reorganisation_required: list[str] = field(default_factory=list)
    open_cases: dict[str, str] = field(default_factory=dict)

    @property
    def open_restoration(self) -> str:
        """ "Already in open case ..." when the record is in an open restoration."""
        return self.open_cases.get(Case.Kind.RESTORATION, "")

    @property
    def open_objection(self) -> str:
        return self.open_cases.get(Case.Kind.OBJECTION, "")

    @property
    def restoration_problem(self) -> str:
        """Why a restoration of the record cannot be filed now (empty when it can)."""
        return self.restoration_refusal or self.open_restoration

    @property
    def restoration_finding(self) -> str:
        """Whether the record qualifies for a restoration today, as a sentence."""
        return self.eligibility.sentence if self.eligibility is not None else ""

    @property
    def objection_problem(self) -> str:
        return self.objection_refusal or self.open_objection

    @property
    def open_reorganisation(self) -> str:
        return self.open_cases.get(Case.Kind.REORGANISATION, "")

    @property
    def reorganisation_problem(self) -> str:
        """Why a temporary restoration during reorganisation cannot be filed (empty: it can)."""
        return self.reorganisation_refusal or self.open_reorganisation

    def problem(self, kind: str) -> str:
        """Why a case of ``kind`` cannot be filed against the record now (empty: it can)."""
        return {
            Case.Kind.RESTORATION: self.restoration_problem,
            Case.Kind.REORGANISATION: self.reorganisation_problem,
        }.get(kind, self.objection_problem)

    @property
    def can_restore(self) -> bool:
        return not self.restoration_problem

    @property
    def can_object(self) -> bool:
        return not self.objection_problem

    @property
    def can_file(self) -> bool:
        """Whether some kind of request can be filed against the record now."""
        return not all(self.problem(kind) for kind in Case.Kind.values)


def record_guides(records, *, today: datetime.date, open_cases=None) -> list[RecordGuide]:
    """For each record: the rule set in force today, the materials a restoration needs,
    whether a restoration qualifies (``cases.eligibility``), and why a restoration or an
    objection cannot be filed today (empty when it can)."""
    open_cases = open_cases or {}
    guides = []
    for record in records:
        guide = RecordGuide(record=record, open_cases=open_cases.get(record.pk, {}))
        try:
            guide.rule_set = rule_set_for_record(record, on=today)
        except RedressError as exc:
            guide.rule_error = exc.message
            guide.restoration_refusal = guide.objection_refusal = exc.message
            guide.reorganisation_refusal = exc.message
            guides.append(guide)
            continue
        required = list(guide.rule_set.required_materials)
        if record.status == Record.Status.SHIELDED:  # restored in full after the plan
            required += COMPLETION_MATERIALS
        guide.required = [str(Material(m).label) if m in Material.values else m for m in required]
        guide.reorganisation_required = [str(Material(m).label) for m in REORGANISATION_MATERIALS]
        if record.status not in SUBMITTABLE_RECORD_STATUSES[Case.Kind.REORGANISATION]:
            guide.reorganisation_refusal = str(
                _("The record is %(status)s: only an active record can be shielded.")
                % {"status": record.get_status_display().lower()}
            )
        else:
            guide.reorganisation_refusal = temporary_restoration_refusal(record, on=today) or ""
        if record.status not in SUBMITTABLE_RECORD_STATUSES[Case.Kind.RESTORATION]:
            guide.restoration_refusal = str(
                _("The record is %(status)s: only an active record can be restored.")
                % {"status": record.get_status_display().lower()}
            )
        else:
            guide.eligibility = restoration_eligibility(record, on=today, rule_set=guide.rule_set)
        window = guide.rule_set.objection_window_days
        if record.status not in SUBMITTABLE_RECORD_STATUSES[Case.Kind.OBJECTION]:
            guide.objection_refusal = str(
                _("The record is %(status)s: an objection cannot be filed against it.")
                % {"status": record.get_status_display().lower()}
            )
        elif window is not None:
            guide.objection_until = record.listed_on + datetime.timedelta(days=window)
            if today > guide.objection_until:
                guide.objection_refusal = str(
                    _("An objection had to be filed within %(days)s days of listing (by %(date)s).")
                    % {"days": window, "date": guide.objection_until.isoformat()}
                )
        guides.append(guide)
    return guides


class CaseFilingForm(forms.Form):
    """Kind, records and grounds; refuses what cannot be filed (a record in another open
    case, a closed objection window, records of several agencies) before anything is filed.
    A restoration that does not qualify yet is filed if the applicant insists: the page
    has told them why and until when, and the agency answers with reasons.

    ``form_token`` is a UUID made when the page is shown: a second submission of the
    same page (a double click, a reload) returns the case the first one filed.
    """

    kind = forms.ChoiceField(label=_("Kind of request"), choices=Case.Kind.choices)
    records = forms.ModelMultipleChoiceField(
        label=_("Records"), queryset=Record.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    grounds = forms.CharField(
        label=_("Grounds"),
        max_length=5000,
        help_text=_(
            "For an objection: what is wrong in the record. For a restoration: how the "
            "penalty was fulfilled and the conduct corrected. For a temporary restoration: "
            "the court's ruling and which measures hinder the plan."
        ),
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={
            "max_length": _(
                "The grounds are %(show_value)d characters long; at most %(limit_value)d fit. "
                "Shorten them and file again: nothing was filed, and your text is kept below."
            )
        },
    )
    form_token = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, records, guides: list[RecordGuide], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["records"].queryset = records
        self.guides = {g.record.pk: g for g in guides}
        # No maxlength on the box: a browser would cut a longer paste silently. The page
        # counts instead (filing.js), and the form says what is too long.
        grounds = self.fields["grounds"].widget.attrs
        grounds["data-max-length"] = grounds.pop("maxlength", self.fields["grounds"].max_length)
        if not self.is_bound:
            self.initial.setdefault("form_token", uuid.uuid4())

    def clean(self):
        data = super().clean()
        kind, records = data.get("kind"), list(data.get("records") or [])
        if not kind or not records:
            return data
        if len({r.agency_id for r in records}) > 1:
            self.add_error(
                "records",
                _(
                    "All records of one case must come from the same agency: file one case per agency."
                ),
            )
        problems = []
        for record in records:
            guide = self.guides.get(record.pk)
            if guide is None:
                continue
            reason = guide.problem(kind)
            if reason:
                problems.append(reason)
        for reason in problems:
            self.add_error("records", reason)
        return data


# --- evidence and the case's steps -------------------------------------------------------------------


class EvidenceUploadForm(forms.Form):
    """What the files are and which record they support; the files themselves are read from
    ``request.FILES.getlist("files")`` and checked one by one by ``evidence_add``."""

    material = forms.ChoiceField(label=_("What the files are"), choices=Material.choices)
    record = forms.TypedChoiceField(
        label=_("Record the files support"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args, case: Case, case_records, suggested=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.case_records = {cr.record_id: cr.record for cr in case_records}
        self.fields["record"].choices = [("", _("Every record of the case"))] + [
            (pk, record.decision_no) for pk, record in self.case_records.items()
        ]
        ordered = list(dict.fromkeys([*suggested, *Material.values]))
        self.fields["material"].choices = [(m, Material(m).label) for m in ordered]
        if suggested:
            self.initial.setdefault("material", suggested[0])
        elif case.kind == Case.Kind.OBJECTION:
            self.initial.setdefault("material", Material.CORRECTION_EVIDENCE)

    def record_object(self) -> Record | None:
        pk = self.cleaned_data.get("record")
        return self.case_records.get(pk) if pk else None


class CaseWithdrawForm(forms.Form):
    reason = forms.CharField(
        label=_("Why you withdraw the request"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    confirm = forms.BooleanField(
        label=_("Yes, withdraw this request. The records stay as they were before it."),
        required=True,
    )


class MaterialsSuppliedForm(forms.Form):
    note = forms.CharField(
        label=_("Note to the officer"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class LetterCopyForm(forms.Form):
    """A copy of a letter, uploaded to compare its SHA-256 with the issued one."""

    file = forms.FileField(label="PDF")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        # A letter is about 100 KB; the request itself is capped to the same size before
        # it is read (config.middleware.RequestBodyLimitMiddleware).
        limit = settings.REDRESS_LETTER_COPY_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                _("The file is larger than %(megabytes)s MB.")
                % {"megabytes": limit // (1024 * 1024)}
            )
        return upload


class StatementForm(forms.Form):
    """The party states its case and defends on evidence from electronic monitoring (APL
    Arts. 41, 45), or expressly waives it (Art. 62)."""

    statement = forms.CharField(
        label=_("Your statement and defence (陈述、申辩)"),
        required=False,
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    waived = forms.BooleanField(
        label=_("I waive my statement and defence on this evidence."), required=False
    )

    def clean(self):
        data = super().clean()
        if not data.get("waived") and not (data.get("statement") or "").strip():
            self.add_error("statement", _("Write your statement and defence, or waive it."))
        return data


class AppealForm(forms.ModelForm):
    """The applicant records an appeal they filed against the decision."""

    class Meta:
        model = Appeal
        fields = ["kind", "body", "filed_on", "reference"]
        widgets = {"filed_on": forms.DateInput(attrs={"type": "date"})}
