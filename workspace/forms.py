"""Forms of the officers' pages: what a person posts, turned into what a step expects.

Each task form's ``to_data()`` returns the dict the flow's ``do_<step>`` method reads
(see ``workflows/flows.py``); the case services judge it, so a form checks only what
a person can fix on the page (a missing choice, a missing reason).
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.functional import lazy
from django.utils.text import capfirst, format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cases.eligibility import case_eligibility
from cases.errors import RedressError
from cases.ids import IdChoiceField, id_parse
from cases.models import (
    REVOCATION_BASIS,
    Appeal,
    Case,
    CaseRecord,
    Evidence,
    LegalReviewGround,
    Material,
    Revocation,
    SubjectTie,
    legal_review_ground_citation,
)
from documents.models import LetterService
from documents.selectors import audited_agencies

TEXTAREA = forms.Textarea(attrs={"rows": 3})


class MissingMaterialsMixin:
    """A checkbox per kind of material with a detail text each: the complete list at once.

    Where the case was asked for materials before, everything missing was told then
    (《信用修复管理办法》第十六条第二款 一次性告知): a further request offers, and requires
    for each ticked item, why the applicant's resubmission made it necessary.
    """

    def add_material_fields(self, case: Case) -> None:
        self.later_request = case.events.filter(kind="materials_requested").exists()
        for material in Material:
            self.fields[f"missing_{material.value}"] = forms.BooleanField(
                label=material.label, required=False
            )
            self.fields[f"detail_{material.value}"] = forms.CharField(
                label=_("What exactly is missing: %(material)s") % {"material": material.label},
                required=False,
                max_length=500,
            )
            if self.later_request:
                self.fields[f"why_{material.value}"] = forms.CharField(
                    label=_("How the resubmission made it necessary: %(material)s")
                    % {"material": material.label},
                    required=False,
                    max_length=1000,
                )

    def material_rows(self) -> list[tuple]:
        return [
            (
                self[f"missing_{m.value}"],
                self[f"detail_{m.value}"],
                self[f"why_{m.value}"] if self.later_request else None,
            )
            for m in Material
        ]

    def missing(self) -> list[dict]:
        data = self.cleaned_data
        items = []
        for m in Material:
            if not data.get(f"missing_{m.value}"):
                continue
            item = {"material": m.value, "detail": (data.get(f"detail_{m.value}") or "").strip()}
            if self.later_request:
                item["reason"] = (data.get(f"why_{m.value}") or "").strip()
            items.append(item)
        return items

    def check_missing(self) -> None:
        if not self.missing():
            self.add_error(None, _("Tick every missing material (at least one)."))
        other = self.cleaned_data.get(f"detail_{Material.OTHER.value}", "")
        if self.cleaned_data.get(f"missing_{Material.OTHER.value}") and not other.strip():
            self.add_error(f"detail_{Material.OTHER.value}", _("Describe the other material."))
        for item in self.missing():
            if self.later_request and not item["reason"]:
                self.add_error(
                    f"why_{item['material']}",
                    _(
                        "Everything missing was asked for once already: say how the "
                        "resubmission made this necessary."
                    ),
                )


class RecordOutcomesMixin:
    """A choice per record of the case, for a partial decision."""

    def add_record_fields(self, case_records) -> None:
        self.case_records = list(case_records)
        for cr in self.case_records:
            self.fields[f"record_{cr.record_id}"] = forms.ChoiceField(
                label=_("Outcome for %(decision_no)s") % {"decision_no": cr.record.decision_no},
                choices=[("", "—"), *(c for c in CaseRecord.Outcome.choices if c[0] != "pending")],
                required=False,
                initial=cr.outcome if cr.outcome != CaseRecord.Outcome.PENDING else "",
            )

    def record_fields(self) -> list:
        return [self[f"record_{cr.record_id}"] for cr in self.case_records]

    def record_outcomes(self) -> dict[int, str]:
        return {
            cr.record_id: self.cleaned_data[f"record_{cr.record_id}"]
            for cr in self.case_records
            if self.cleaned_data.get(f"record_{cr.record_id}")
        }

    def check_record_outcomes(self) -> None:
        for cr in self.case_records:
            if not self.cleaned_data.get(f"record_{cr.record_id}"):
                self.add_error(
                    f"record_{cr.record_id}",
                    _("A partial decision names the outcome of every record."),
                )


def findings_of(case: Case) -> list:
    """The findings of ``case``'s records (``cases.eligibility``); none when no rule version
    is in force for them (the case page says what is wrong with the rules elsewhere)."""
    try:
        return case_eligibility(case)
    except RedressError:
        return []


def findings_as_reasons(findings, *, language: str) -> str:
    """The records that do not qualify, one line each, in the case's language: a draft of
    the reasons for a non-acceptance, for the officer to confirm or rewrite."""
    with translation.override(language):
        return "\n".join(
            gettext("Record %(decision_no)s: %(finding)s")
            % {"decision_no": f.record.decision_no, "finding": f.sentence}
            for f in findings
            if not f.qualifies
        )


class AcceptanceCheckForm(MissingMaterialsMixin, forms.Form):
    """Intake officer: accept, ask for every missing material at once, or not accept.

    The form shows what the rules say of each record on the filing day (``findings``,
    from ``cases.eligibility``) and drafts the reasons from the records that do not
    qualify; nothing is chosen for the officer: they decide, and confirm or rewrite the
    reasons.
    """

    ACCEPT, REQUEST_MATERIALS, NOT_ACCEPT = "accept", "request_materials", "not_accept"

    decision = forms.ChoiceField(
        label=_("Decision"),
        widget=forms.RadioSelect,
        choices=[
            (ACCEPT, _("Accept: the materials are complete")),
            (REQUEST_MATERIALS, _("Ask for missing materials (the complete list)")),
            (NOT_ACCEPT, _("Do not accept")),
        ],
    )
    reasons = forms.CharField(label=_("Reasons for not accepting"), required=False, widget=TEXTAREA)
    note = forms.CharField(label=_("Note"), required=False, widget=TEXTAREA)

    def __init__(self, *args, case: Case, detail=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_material_fields(case)
        self.findings = findings_of(case)
        self.fields["reasons"].initial = findings_as_reasons(self.findings, language=case.language)

    def clean(self):
        data = super().clean()
        decision = data.get("decision")
        if decision == self.REQUEST_MATERIALS:
            self.check_missing()
        if decision == self.NOT_ACCEPT and not (data.get("reasons") or "").strip():
            self.add_error("reasons", _("Give the reasons for not accepting."))
        return data

    def to_data(self) -> dict:
        data = self.cleaned_data
        result = {"decision": data["decision"], "note": data["note"]}
        if data["decision"] == self.REQUEST_MATERIALS:
            result["missing"] = self.missing()
        if data["decision"] == self.NOT_ACCEPT:
            result["reasons"] = data["reasons"]
        return result


class RefusalApprovalForm(forms.Form):
    """Signing official: approve the proposed non-acceptance, or send the case back to the
    acceptance check saying why (SAMR Order 107 Art. 14(3))."""

    decision = forms.ChoiceField(
        label=_("Decision"),
        widget=forms.RadioSelect,
        choices=[
            ("approve", _("Approve: the case is not accepted, with the reasons proposed")),
            ("decline", _("Do not approve: back to the acceptance check")),
        ],
    )
    note = forms.CharField(
        label=_("Note (required not to approve)"), required=False, widget=TEXTAREA
    )

    def __init__(self, *args, case: Case, detail=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.case = case
        self.findings = findings_of(case)

    def clean(self):
        data = super().clean()
        if data.get("decision") == "decline" and not (data.get("note") or "").strip():
            self.add_error("note", _("Say why the non-acceptance is not approved."))
        return data

    def to_data(self) -> dict:
        return {"decision": self.cleaned_data["decision"], "note": self.cleaned_data["note"]}


# A ground's article in the reader's language, read when the form is shown.
_citation_lazy = lazy(lambda ground: legal_review_ground_citation(ground).render(), str)


class EvidenceReviewForm(MissingMaterialsMixin, RecordOutcomesMixin, forms.Form):
    """Case officer: an outcome and reason per evidence item, then complete or ask for more."""

    COMPLETE, REQUEST_MATERIALS = "complete", "request_materials"

    action = forms.ChoiceField(
        label=_("Then"),
        widget=forms.RadioSelect,
        choices=[
            (COMPLETE, _("Complete the review with a recommendation")),
            (REQUEST_MATERIALS, _("Ask the applicant for missing materials")),
        ],
    )
    recommendation = forms.ChoiceField(
        label=_("Recommendation"),
        choices=[("", "—"), *Case.Decision.choices],
        required=False,
    )
    legal_review_grounds = forms.MultipleChoiceField(
        label=_("Grounds for a legal review (Administrative Penalties Law, Article 58)"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        choices=[
            (
                ground.value,
                # Translators: a ground for a legal review and the item of the article.
                format_lazy(
                    _("{ground} ({article})"),
                    ground=ground.label,
                    article=_citation_lazy(ground),
                ),
            )
            for ground in LegalReviewGround
        ],
        help_text=_(
            "Tick every ground that applies; none ticked records that none applies. Any "
            "ground sends the case to legal review, as does a rule set that requires one."
        ),
    )
    legal_review_other_basis = forms.CharField(
        label=_("Law or regulation requiring a legal review"),
        required=False,
        max_length=500,
        help_text=_("With the last ground: name the provision."),
    )
    note = forms.CharField(label=_("Review note"), required=False, widget=TEXTAREA)

    def __init__(self, *args, case: Case, detail, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["legal_review_grounds"].initial = case.legal_review_grounds
        self.fields["legal_review_other_basis"].initial = case.legal_review_other_basis
        self.evidence = list(detail.evidence)
        for item in self.evidence:
            self.fields[f"outcome_{item.pk}"] = forms.ChoiceField(
                label=_("Outcome for %(name)s") % {"name": item.original_name},
                choices=[
                    ("", _("Leave as it is")),
                    *(c for c in Evidence.Outcome.choices if c[0] != Evidence.Outcome.PENDING),
                ],
                required=False,
            )
            self.fields[f"reason_{item.pk}"] = forms.CharField(
                label=_("Reason for %(name)s") % {"name": item.original_name},
                required=False,
                max_length=2000,
            )
        self.add_record_fields(detail.case_records)
        self.add_material_fields(case)

    def evidence_rows(self) -> list[tuple]:
        return [
            (item, self[f"outcome_{item.pk}"], self[f"reason_{item.pk}"]) for item in self.evidence
        ]

    def clean(self):
        data = super().clean()
        if data.get("action") == self.COMPLETE:
            if not data.get("recommendation"):
                self.add_error("recommendation", _("Choose a recommendation."))
            elif data["recommendation"] == Case.Decision.PARTLY_APPROVED:
                self.check_record_outcomes()
        if data.get("action") == self.REQUEST_MATERIALS:
            self.check_missing()
        if (
            LegalReviewGround.OTHER_LAW in (data.get("legal_review_grounds") or [])
            and not (data.get("legal_review_other_basis") or "").strip()
        ):
            self.add_error(
                "legal_review_other_basis",
                _("Name the law or regulation that requires a legal review of this case."),
            )
        return data

    def reviews(self) -> list[dict]:
        return [
            {
                "evidence": item.pk,
                "outcome": self.cleaned_data[f"outcome_{item.pk}"],
                "reason": self.cleaned_data.get(f"reason_{item.pk}", ""),
            }
            for item in self.evidence
            if self.cleaned_data.get(f"outcome_{item.pk}")
        ]

    def to_data(self) -> dict:
        data = self.cleaned_data
        result = {"reviews": self.reviews(), "action": data["action"], "note": data["note"]}
        if data["action"] == self.REQUEST_MATERIALS:
            result["missing"] = self.missing()
        else:
            result["recommendation"] = data["recommendation"]
            if data["recommendation"] == Case.Decision.PARTLY_APPROVED:
                result["record_outcomes"] = self.record_outcomes()
            result["legal_review_grounds"] = data["legal_review_grounds"]
            result["legal_review_other_basis"] = data["legal_review_other_basis"]
        return result


class LegalReviewForm(forms.Form):
    """Legal reviewer: pass to sign-off, or send back to the case officer with a note."""

    PASS, SEND_BACK = "pass", "send_back"

    decision = forms.ChoiceField(
        label=_("Decision"),
        widget=forms.RadioSelect,
        choices=[
            (PASS, _("Pass to sign-off")),
            (SEND_BACK, _("Send back to the case officer")),
        ],
    )
    note = forms.CharField(label=_("Note"), required=False, widget=TEXTAREA)

    def __init__(self, *args, case: Case, detail=None, **kwargs):
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        if data.get("decision") == self.SEND_BACK and not (data.get("note") or "").strip():
            self.add_error("note", _("Say why the case is sent back."))
        return data

    def to_data(self) -> dict:
        return {"decision": self.cleaned_data["decision"], "note": self.cleaned_data["note"]}


class SignOffForm(RecordOutcomesMixin, forms.Form):
    """Signing official: approve, partly approve (per record) or reject with reasons."""

    decision = forms.ChoiceField(
        label=_("Decision"), widget=forms.RadioSelect, choices=Case.Decision.choices
    )
    reasons = forms.CharField(
        label=_("Reasons (tied to the evidence)"), required=False, widget=TEXTAREA
    )
    note = forms.CharField(label=_("Note"), required=False, widget=TEXTAREA)
    lifted_measures = forms.CharField(
        label=_("Measures lifted while the plan is carried out"),
        required=False,
        widget=TEXTAREA,
        help_text=_(
            "Only the disciplinary measures that hinder the reorganisation plan or composition "
            "agreement (minimum necessary, 《信用修复管理办法》第二十条); write that none are "
            "if only the publication is shielded."
        ),
    )

    def __init__(self, *args, case: Case, detail, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_record_fields(detail.case_records)
        if case.recommendation:
            self.fields["decision"].initial = case.recommendation
        self.temporary = case.kind == Case.Kind.REORGANISATION
        if not self.temporary:
            del self.fields["lifted_measures"]

    def clean(self):
        data = super().clean()
        decision = data.get("decision")
        # Every decision states its reasons, an approval too (APL Art. 44: the decision and
        # its reasons are told; the label asks for reasons tied to the evidence).
        if decision and not data.get("reasons", "").strip():
            self.add_error("reasons", _("State the reasons, tied to the evidence."))
        if (
            self.temporary
            and decision
            and decision != Case.Decision.REJECTED
            and not data.get("lifted_measures", "").strip()
        ):
            self.add_error(
                "lifted_measures",
                _(
                    "Name the measures lifted while the plan is carried out, or write that none are."
                ),
            )
        if decision == Case.Decision.PARTLY_APPROVED:
            self.check_record_outcomes()
        return data

    def to_data(self) -> dict:
        data = self.cleaned_data
        result = {"decision": data["decision"], "reasons": data["reasons"], "note": data["note"]}
        if data["decision"] == Case.Decision.PARTLY_APPROVED:
            result["record_outcomes"] = self.record_outcomes()
        if self.temporary:
            result["lifted_measures"] = data["lifted_measures"]
        return result


TASK_FORMS: dict[str, type[forms.Form]] = {
    "acceptance_check": AcceptanceCheckForm,
    "refusal_approval": RefusalApprovalForm,
    "evidence_review": EvidenceReviewForm,
    "legal_review": LegalReviewForm,
    "sign_off": SignOffForm,
}


def task_form(step: str, *, case: Case, detail, data=None) -> forms.Form | None:
    """The form of step ``step`` for ``case``, bound to ``data`` when given."""
    form_class = TASK_FORMS.get(step)
    if form_class is None:
        return None
    return form_class(data, case=case, detail=detail)


# --- revoking a restoration ---------------------------------------------------------------------


class MultipleFileInput(forms.FileInput):
    """``<input type="file" multiple>``: the browser sends every chosen file."""

    allow_multiple_selected = True


class FilesField(forms.FileField):
    """One or more files from one input, each cleaned as a ``FileField`` would; a list."""

    widget = MultipleFileInput

    def __init__(self, *, max_files: int, **kwargs):
        self.max_files = max_files
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        files = [item for item in (data if isinstance(data, list | tuple) else [data]) if item]
        if not files:
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return []
        if len(files) > self.max_files:
            raise ValidationError(
                _("Choose at most %(count)s files."),
                code="max_files",
                params={"count": self.max_files},
            )
        return [super(FilesField, self).clean(item, initial) for item in files]


class RevocationForm(forms.Form):
    """Signing official: propose to revoke an approved restoration on a ground the rules
    name, with the reasons and the evidence files that support it, and confirm what it
    does once signed."""

    ground = forms.ChoiceField(
        label=_("Ground"),
        widget=forms.RadioSelect,
        choices=[
            (
                ground.value,
                # Translators: a ground of revocation and the articles it rests on.
                format_lazy(_("{ground} ({articles})"), ground=ground.label, articles=basis),
            )
            for ground, basis in REVOCATION_BASIS.items()
        ],
        error_messages={"required": _("Choose the ground of the revocation.")},
    )
    reasons = forms.CharField(
        label=_("Reasons"),
        widget=TEXTAREA,
        max_length=5000,
        help_text=_("What was found. The applicant reads this in the revocation letter."),
        error_messages={"required": _("State why the restoration is revoked.")},
    )
    evidence = FilesField(
        label=_("Evidence"),
        max_files=Revocation.EVIDENCE_MAX,
        help_text=format_lazy(
            _(
                "One or more PDF, PNG or JPEG files (at most {count}) that support the "
                "revocation; they are kept as your evidence of the case. If the page comes "
                "back with an error, choose the files again."
            ),
            count=Revocation.EVIDENCE_MAX,
        ),
        error_messages={
            "required": _("Add at least one evidence file that supports the revocation.")
        },
    )
    confirm = forms.BooleanField(
        label=_(
            "I understand: once the legal review passes and the signing officials sign, the "
            "records are published again on every platform, what the case still waits for is "
            "cancelled, and the applicant is told. This cannot be undone."
        ),
        error_messages={"required": _("Confirm that you mean to revoke this restoration.")},
    )

    def to_data(self) -> dict:
        """The arguments of ``workflows.actions.case_revoke`` besides the case and official."""
        data = self.cleaned_data
        return {"ground": data["ground"], "reasons": data["reasons"], "evidence": data["evidence"]}


# --- the collective decision meeting (APL Art. 57) ----------------------------------------------


class DecisionMeetingForm(forms.Form):
    """Signing official: the meeting in which the agency's heads decided the case."""

    held_on = forms.DateField(
        label=_("Meeting held on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    participants = forms.ModelMultipleChoiceField(
        label=_("Participants"),
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The agency's heads and officers who took part (at least two)."),
    )
    minutes = forms.FileField(
        label=_("Minutes"),
        help_text=_("The signed minutes of the meeting: a PDF, PNG or JPEG file."),
    )
    note = forms.CharField(label=_("Note"), required=False, widget=TEXTAREA, max_length=2000)

    def __init__(self, *args, people, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["participants"].queryset = people
        self.fields["participants"].label_from_instance = lambda u: u.get_full_name() or u.username

    def to_data(self) -> dict:
        data = self.cleaned_data
        return {
            "held_on": data["held_on"],
            "participants": list(data["participants"]),
            "minutes": data["minutes"],
            "note": data["note"],
        }


class PlanFailureForm(forms.Form):
    """Case officer: the court terminated the plan of a granted temporary restoration;
    the shielded records are published again (《信用修复管理办法》第二十条第二款)."""

    reasons = forms.CharField(
        label=_("What the court ruled"),
        widget=TEXTAREA,
        max_length=5000,
        error_messages={"required": _("State what the court ruled.")},
    )
    ruling = forms.FileField(
        label=_("The court's ruling terminating the plan or agreement"),
        help_text=_("A PDF, PNG or JPEG file; kept as your evidence of the case."),
        error_messages={"required": _("Add the court's ruling terminating the plan or agreement.")},
    )
    confirm = forms.BooleanField(
        label=_(
            "I understand: the shielded records are published again on every platform and "
            "the measures lifted apply again. This cannot be undone."
        ),
        error_messages={"required": _("Confirm that the plan failed.")},
    )

    def to_data(self) -> dict:
        """The arguments of ``workflows.actions.case_plan_fail`` besides the case and officer."""
        return {"reasons": self.cleaned_data["reasons"], "ruling": self.cleaned_data["ruling"]}


class RevocationReviewForm(forms.Form):
    """Legal reviewer: pass a proposed revocation on to the signers, or end it."""

    passed = forms.TypedChoiceField(
        label=_("Legal review"),
        widget=forms.RadioSelect,
        coerce=lambda value: value == "pass",
        choices=[
            ("pass", _("Passed: on to the signing officials")),
            ("drop", _("Not passed: the revocation is not pursued")),
        ],
        error_messages={"required": _("Choose the outcome of the legal review.")},
    )
    note = forms.CharField(
        label=_("Note"),
        widget=TEXTAREA,
        max_length=5000,
        required=False,
        help_text=_("Required when the review does not pass: why."),
    )

    def to_data(self) -> dict:
        return {"passed": self.cleaned_data["passed"], "note": self.cleaned_data["note"]}


class RevocationSignForm(forms.Form):
    """Signing official: sign a revocation that passed its legal review, or decline it."""

    agree = forms.TypedChoiceField(
        label=_("Signature"),
        widget=forms.RadioSelect,
        coerce=lambda value: value == "sign",
        choices=[
            ("sign", _("Sign the revocation")),
            ("decline", _("Decline: the revocation is not pursued")),
        ],
        error_messages={"required": _("Choose whether you sign.")},
    )
    note = forms.CharField(
        label=_("Note"),
        widget=TEXTAREA,
        max_length=5000,
        required=False,
        help_text=_("Required when you decline: why."),
    )

    def to_data(self) -> dict:
        return {"agree": self.cleaned_data["agree"], "note": self.cleaned_data["note"]}


# --- supervisors' and lists' forms --------------------------------------------------------------


class IdListField(forms.Field):
    """Ticked rows of a list: a list of whole numbers."""

    widget = forms.CheckboxSelectMultiple
    default_error_messages = {
        "required": _("Select at least one task."),
        "invalid": _("Select tasks from the list."),
    }

    def to_python(self, value) -> list[int]:
        if not value:
            return []
        ids = {id_parse(v) for v in value}
        if None in ids:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return sorted(ids)


class TaskAssignForm(forms.Form):
    """Supervisor: give one task to an eligible officer of the agency."""

    assignee = IdChoiceField(label=_("Assign to"), queryset=None)

    def __init__(self, *args, officers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = officers


class BulkAssignForm(TaskAssignForm):
    """Supervisor: give the ticked tasks to one officer."""

    tasks = IdListField(label=_("Tasks"))


class DeadlineExtendForm(forms.Form):
    """Supervisor: extend a running deadline, naming why."""

    days = forms.IntegerField(label=_("Working days"), min_value=1, max_value=60)
    reason = forms.CharField(label=_("Reason"), widget=TEXTAREA, max_length=2000)


class CaseFilterForm(forms.Form):
    """Filter and search the case list."""

    q = forms.CharField(label=_("Reference, subject code or name"), required=False, max_length=100)
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any")), *Case.Status.choices]
    )
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("Any")), *Case.Kind.choices]
    )


class TieDeclareForm(forms.Form):
    """An officer declares their own tie to a subject (APL Art. 43: they recuse themselves)."""

    subject_code = forms.CharField(
        label=_("Subject code"),
        max_length=18,
        help_text=_("The Unified Social Credit Code or resident ID of the subject."),
    )
    kind = forms.ChoiceField(label=_("Kind of tie"), choices=SubjectTie.Kind.choices)
    note = forms.CharField(label=_("Note"), widget=TEXTAREA, max_length=2000, required=False)
    valid_from = forms.DateField(
        label=_("Barred from"),
        required=False,
        help_text=_("Empty: from today."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    valid_until = forms.DateField(
        label=_("Barred until"),
        required=False,
        help_text=_("Empty: until an administrator ends the tie."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )


class ExportForm(forms.Form):
    agency = IdChoiceField(label=_("Agency"), queryset=None, empty_label=None)
    date_from = forms.DateField(
        label=_("Date from"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(label=_("Date to"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = audited_agencies(user)
        # In the reader's language (an agency's str() is its code and Chinese name).
        self.fields["agency"].label_from_instance = lambda agency: (
            f"{agency.code} {agency.localized_name()}"
        )

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            self.add_error("date_to", _("The period ends before it starts."))
        return data


# --- service of letters and appeals (decision 0023) --------------------------------------------


def _label(model, name: str):
    """A model field's name as a form label, capitalised as Django's model forms do."""
    return capfirst(model._meta.get_field(name).verbose_name)


class LetterServiceForm(forms.Form):
    """An officer records how a stored letter was served, when, and the receipt."""

    letter = forms.TypedChoiceField(label=_("Letter"), coerce=int)
    method = forms.ChoiceField(
        label=_label(LetterService, "method"),
        choices=[c for c in LetterService.Method.choices if c[0] != LetterService.Method.PORTAL],
    )
    served_on = forms.DateField(
        label=_label(LetterService, "served_on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    receipt_by = forms.CharField(
        label=_label(LetterService, "receipt_by"), max_length=200, required=False
    )
    tracking_number = forms.CharField(
        label=_label(LetterService, "tracking_number"), max_length=60, required=False
    )
    address = forms.CharField(
        label=_label(LetterService, "address"), max_length=300, required=False
    )
    note = forms.CharField(
        label=_label(LetterService, "note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, letters=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["letter"].choices = [
            (letter.pk, f"{letter.get_kind_display()} · {letter.code_display}")
            for letter in letters
        ]

    def to_data(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k != "letter"}


class AppealForm(forms.ModelForm):
    """An officer records an appeal filed against the decision."""

    class Meta:
        model = Appeal
        fields = ["kind", "body", "filed_on", "reference"]
        widgets = {"filed_on": forms.DateInput(attrs={"type": "date"})}


class AppealOutcomeForm(forms.Form):
    """The outcome of a pending appeal."""

    outcome = forms.ChoiceField(
        label=_label(Appeal, "outcome"),
        choices=[c for c in Appeal.Outcome.choices if c[0] != Appeal.Outcome.PENDING],
    )
    decided_on = forms.DateField(
        label=_label(Appeal, "outcome_on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    reference = forms.CharField(
        label=_label(Appeal, "outcome_reference"), max_length=100, required=False
    )
    note = forms.CharField(
        label=_label(Appeal, "outcome_note"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    records = forms.TypedMultipleChoiceField(
        label=_label(Appeal, "changed_records"),
        help_text=Appeal._meta.get_field("changed_records").help_text,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, records=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["records"].choices = [
            (record.pk, f"{record.decision_no} · {record.list_type}") for record in records
        ]
