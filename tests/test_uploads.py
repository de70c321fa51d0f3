"""Uploading evidence: only PDF, PNG and JPEG by their content, stored under a random name,
and a refused file leaves nothing behind, neither a row nor a file.
"""

import hashlib
import os
import re
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from cases.errors import NotPermitted, UploadRejected, WrongState
from cases.models import Case, Evidence, Material
from tests import factories
from tests.flow_helpers import last_event, submit
from tests.helpers import jpeg_upload, pdf_bytes, pdf_upload, png_upload, restorable_record
from workflows import actions


@pytest.fixture(autouse=True)
def evidence_store(tmp_path, monkeypatch):
    """A private evidence store per test, so that no other test's files are counted."""
    storage = Evidence._meta.get_field("file").storage
    monkeypatch.setattr(storage, "location", str(tmp_path))
    return tmp_path


@pytest.fixture
def case(company, agency, platforms, applicant):
    record = restorable_record(company, agency, platforms)
    return submit(Case.Kind.RESTORATION, company, [record], applicant)


def stored_files() -> set[str]:
    root = Path(Evidence._meta.get_field("file").storage.location)
    return {
        str(Path(folder, name).relative_to(root))
        for folder, _, names in os.walk(root)
        for name in names
    }


def upload(case, user, file, **kwargs):
    return actions.evidence_add(case=case, uploaded_by=user, upload=file, **kwargs)


# --- accepted files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make_upload", "content_type"),
    [(pdf_upload, "application/pdf"), (png_upload, "image/png"), (jpeg_upload, "image/jpeg")],
)
def test_a_pdf_png_or_jpeg_is_taken_with_its_detected_type_and_hash(
    case, applicant, make_upload, content_type
):
    file = make_upload()
    content = file.read()
    file.seek(0)

    item = upload(case, applicant, file, material=Material.FULFILMENT_PROOF)

    assert item.content_type == content_type
    assert item.sha256 == hashlib.sha256(content).hexdigest()
    assert item.size == len(content)
    assert item.uploaded_by == applicant
    assert item.review_outcome == Evidence.Outcome.PENDING
    with item.file.open("rb") as stored:
        assert stored.read() == content
    added = last_event(case, "evidence_added")
    assert added.data["sha256"] == item.sha256


def test_the_type_comes_from_the_content_not_the_name(case, applicant):
    item = upload(case, applicant, ContentFile(pdf_bytes(), name="receipt.png"))

    assert item.content_type == "application/pdf"
    assert item.original_name == "receipt.png"


def test_a_file_is_stored_under_a_random_name_not_the_uploaded_one(case, applicant):
    item = upload(case, applicant, pdf_upload(name="营业执照-receipt.pdf"))

    assert item.original_name == "营业执照-receipt.pdf"
    assert re.fullmatch(r"\d{4}/\d{2}/[0-9a-f]{32}", item.file.name)
    assert "receipt" not in item.file.name


@pytest.mark.parametrize(
    ("uploaded_name", "label"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\li\\Desktop\\receipt.pdf", "receipt.pdf"),
        ("re\x00ce\x1bipt\u202e.pdf", "receipt.pdf"),
        ("...hidden.pdf", "hidden.pdf"),
    ],
)
def test_the_uploaded_name_is_kept_only_as_a_sanitised_label(case, applicant, uploaded_name, label):
    item = upload(case, applicant, pdf_upload(name=uploaded_name))

    assert item.original_name == label
    assert label not in item.file.name


def test_uploading_the_same_file_again_returns_the_item_already_there(case, applicant):
    content = pdf_bytes()
    first = upload(case, applicant, ContentFile(content, name="receipt.pdf"))

    again = upload(case, applicant, ContentFile(content, name="receipt-retry.pdf"))

    assert again.pk == first.pk
    assert again.original_name == "receipt.pdf"
    assert case.evidence.count() == 1
    assert list(case.events.values_list("kind", flat=True)).count("evidence_added") == 1


# --- refused files ----------------------------------------------------------------------------


def test_an_executable_renamed_pdf_is_refused_and_leaves_nothing(case, applicant):
    files_before = stored_files()
    executable = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64

    with pytest.raises(UploadRejected) as refused:
        upload(case, applicant, ContentFile(executable, name="receipt.pdf"))

    assert refused.value.code == "type_not_allowed"
    assert "PDF, PNG and JPEG" in refused.value.message
    assert not Evidence.objects.exists()
    assert stored_files() == files_before
    assert "evidence_added" not in case.events.values_list("kind", flat=True)


def test_a_file_over_the_size_limit_is_refused(case, applicant, settings):
    settings.REDRESS_UPLOAD_MAX_BYTES = 64
    files_before = stored_files()

    with pytest.raises(UploadRejected) as refused:
        upload(case, applicant, ContentFile(pdf_bytes() + b"\x00" * 64, name="big.pdf"))

    assert refused.value.code == "too_large"
    assert not Evidence.objects.exists()
    assert stored_files() == files_before


def test_a_file_over_the_limit_is_refused_even_when_it_does_not_say_its_size(
    case, applicant, settings
):
    settings.REDRESS_UPLOAD_MAX_BYTES = 64

    class Unsized:
        name = "stream.pdf"

        def __init__(self, content):
            self._content = content

        def read(self, size=-1):
            return self._content[:size] if size >= 0 else self._content

    with pytest.raises(UploadRejected) as refused:
        upload(case, applicant, Unsized(pdf_bytes() + b"\x00" * 64))

    assert refused.value.code == "too_large"
    assert not Evidence.objects.exists()


def test_an_empty_file_is_refused(case, applicant):
    with pytest.raises(UploadRejected) as refused:
        upload(case, applicant, ContentFile(b"", name="empty.pdf"))

    assert refused.value.code == "empty"
    assert not Evidence.objects.exists()


def test_a_file_the_malware_scanner_refuses_leaves_nothing(case, applicant, settings):
    settings.REDRESS_MALWARE_SCANNER = "tests.helpers.refuse_every_upload"
    files_before = stored_files()

    with pytest.raises(UploadRejected) as refused:
        upload(case, applicant, pdf_upload())

    assert refused.value.code == "malware_found"
    assert not Evidence.objects.exists()
    assert stored_files() == files_before


# --- who and when ----------------------------------------------------------------------------


def test_a_stranger_cannot_add_evidence_to_a_case(case):
    stranger = factories.representative(factories.SubjectFactory(), "someone-else")
    files_before = stored_files()

    with pytest.raises(NotPermitted) as refused:
        upload(case, stranger, pdf_upload())

    assert refused.value.code == "not_applicant"
    assert not Evidence.objects.exists()
    assert stored_files() == files_before


def test_an_officer_of_another_agency_cannot_add_evidence(case, other_agency):
    outsider = factories.officer("case_officer", other_agency, username="officer-guangzhou")

    with pytest.raises(NotPermitted) as refused:
        upload(case, outsider, pdf_upload(), source=Evidence.Source.OFFICER)

    assert refused.value.code == "role_required"
    assert not Evidence.objects.exists()


def test_evidence_cannot_be_added_to_a_closed_case(case, applicant):
    actions.case_withdraw(case=case, applicant=applicant, reason="Filed by mistake.")
    files_before = stored_files()

    with pytest.raises(WrongState) as refused:
        upload(case, applicant, pdf_upload())

    assert refused.value.http_status == 409
    assert not Evidence.objects.exists()
    assert stored_files() == files_before


def test_a_stored_file_lands_in_the_evidence_store(case, applicant, evidence_store):
    item = upload(case, applicant, pdf_upload())

    assert stored_files() == {item.file.name}
    assert (evidence_store / item.file.name).is_file()
