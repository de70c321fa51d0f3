"""Forms of the documents pages: checking a copy of a letter, asking for an export."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.ids import IdChoiceField
from documents.selectors import audited_agencies


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


class ExportForm(forms.Form):
    agency = IdChoiceField(label=gettext_lazy("Agency"), queryset=None, empty_label=None)
    date_from = forms.DateField(
        label=gettext_lazy("Date from"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=gettext_lazy("Date to"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = audited_agencies(user)

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            self.add_error("date_to", _("The period ends before it starts."))
        return data
