"""An agency imports its records from a spreadsheet: ``manage.py import_records``."""

import csv
import datetime
import io
from dataclasses import dataclass

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from openpyxl import Workbook

from cases.identifiers import make_resident_id, make_uscc
from cases.models import ListType, Measure, Publication, PublicationDefault, Record, Subject
from tests import factories

HEADER = [
    "list_type",
    "subject_code",
    "subject_name",
    "decision_no",
    "legal_basis",
    "severity",
    "listed_on",
    "penalty_type",
]
COMPANY = make_uscc(org_body="MA5G1234")
PERSON = make_resident_id(region="440304", birth=datetime.date(1985, 3, 12), sequence=27)
SUMMARY_OF_REJECTION = "nothing was imported (use --partial to import the good rows)"


def company_fined(**changes) -> dict:
    return {
        "list_type": "penalty_publication",
        "subject_code": COMPANY,
        "subject_name": "深圳市前海示例贸易有限公司",
        "decision_no": "深市监罚〔2025〕101号",
        "legal_basis": "《中华人民共和国食品安全法》第一百二十四条",
        "severity": "general",
        "listed_on": "2025-01-06",
        "penalty_type": "fine",
        **changes,
    }


def person_listed(**changes) -> dict:
    return {
        "list_type": "dishonest_debtor",
        "subject_code": PERSON,
        "subject_name": "李四",
        "decision_no": "（2025）粤0304执1234号",
        "legal_basis": "",
        "severity": "serious",
        "listed_on": "2025-03-10",
        "penalty_type": "listing",
        **changes,
    }


def write_csv(path, rows, *, header=HEADER, encoding="utf-8-sig"):
    """A CSV as Excel's 'CSV UTF-8' saves it (with a BOM), unless told otherwise."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows([row[column] for column in HEADER] for row in rows)
    path.write_bytes(text.getvalue().encode(encoding))
    return path


def write_xlsx(path, rows):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append([row[column] for column in HEADER])
    workbook.save(path)
    return path


@dataclass
class Outcome:
    printed: str
    row_errors: list[str]
    failure: str | None


def import_file(path, *options, agency="SZAMR") -> Outcome:
    """Run the command as an operator would; keep what it printed and how it failed."""
    out, err = io.StringIO(), io.StringIO()
    failure = None
    try:
        call_command(
            "import_records", str(path), "--agency", agency, *options, stdout=out, stderr=err
        )
    except CommandError as exc:
        failure = str(exc)
    return Outcome(out.getvalue().strip(), err.getvalue().splitlines(), failure)


def records_as_listed():
    return list(
        Record.objects.order_by("decision_no").values_list(
            "decision_no",
            "subject__name",
            "subject__kind",
            "list_type__code",
            "severity",
            "penalty_type",
            "listed_on",
            "restorable_from",
            "expires_on",
            "status",
        )
    )


THE_TWO_RECORDS = [
    (
        "深市监罚〔2025〕101号",
        "深圳市前海示例贸易有限公司",
        "legal",
        "penalty_publication",
        "general",
        "fine",
        datetime.date(2025, 1, 6),
        datetime.date(2025, 4, 6),  # general penalty: restorable after 3 months
        datetime.date(2026, 1, 6),  # ... and expires after 12
        "active",
    ),
    (
        "（2025）粤0304执1234号",
        "李四",
        "natural",
        "dishonest_debtor",
        "serious",
        "listing",
        datetime.date(2025, 3, 10),
        datetime.date(2025, 3, 10),  # a debtor is removed as soon as they pay
        None,
        "active",
    ),
]


@pytest.mark.django_db
def test_a_csv_with_chinese_names_imports_a_company_and_a_person(agency, tmp_path):
    path = write_csv(tmp_path / "records.csv", [company_fined(), person_listed()])

    outcome = import_file(path)

    assert outcome.failure is None
    assert outcome.printed == "Imported 2 records (2 new, 0 unchanged); 2 new subjects."
    assert records_as_listed() == THE_TWO_RECORDS
    assert set(Record.objects.values_list("agency__code", flat=True)) == {"SZAMR"}
    assert not Record.objects.filter(publications__isnull=False).exists()


@pytest.mark.django_db
def test_an_xlsx_workbook_with_date_cells_imports_the_same_records(agency, tmp_path):
    rows = [
        company_fined(listed_on=datetime.date(2025, 1, 6)),
        person_listed(listed_on=datetime.date(2025, 3, 10)),
    ]
    path = write_xlsx(tmp_path / "records.xlsx", rows)

    outcome = import_file(path)

    assert outcome.printed == "Imported 2 records (2 new, 0 unchanged); 2 new subjects."
    assert records_as_listed() == THE_TWO_RECORDS


@pytest.mark.django_db
def test_a_gb18030_csv_saved_by_wps_keeps_its_chinese_names(agency, tmp_path):
    path = write_csv(tmp_path / "wps.csv", [company_fined(), person_listed()], encoding="gb18030")

    outcome = import_file(path)

    assert outcome.printed == "Imported 2 records (2 new, 0 unchanged); 2 new subjects."
    assert records_as_listed() == THE_TWO_RECORDS


@pytest.mark.django_db
def test_header_names_may_come_in_any_order_and_case(agency, tmp_path):
    path = tmp_path / "shuffled.csv"
    path.write_text(
        " Decision_No ,SUBJECT_CODE,subject_name,List_Type,severity,penalty_type,"
        "listed_on,legal_basis\n"
        f"深市监罚〔2025〕7号,{COMPANY},深圳市前海示例贸易有限公司,penalty_publication,"
        "minor,warning,2025-05-01,\n",
        encoding="utf-8",
    )

    outcome = import_file(path)

    assert outcome.printed == "Imported 1 record (1 new, 0 unchanged); 1 new subject."
    assert Record.objects.get().decision_no == "深市监罚〔2025〕7号"


@pytest.mark.django_db
def test_a_file_with_bad_rows_reports_every_error_and_imports_nothing(agency, tmp_path):
    today = timezone.localdate()
    next_month = today + datetime.timedelta(days=30)
    wrong_check = COMPANY[:-1] + ("1" if COMPANY[-1] != "1" else "2")
    rows = [
        company_fined(),  # row 2: good
        company_fined(decision_no="深市监罚〔2025〕102号", subject_code=wrong_check),  # row 3
        company_fined(decision_no="深市监罚〔2025〕103号", list_type="blacklist"),  # row 4
        company_fined(decision_no="深市监罚〔2025〕104号", listed_on="2025/01/06"),  # row 5
        company_fined(decision_no="深市监罚〔2025〕105号", listed_on=f"{next_month}"),  # 6
        person_listed(subject_name="  "),  # row 7
        company_fined(),  # row 8: row 2 again
    ]
    path = write_csv(tmp_path / "bad.csv", rows)

    outcome = import_file(path)

    assert outcome.row_errors == [
        f"row 3, column subject_code: Check character should be '{COMPANY[-1]}', "
        f"not '{wrong_check[-1]}' (position 18).",
        "row 4, column list_type: 'blacklist' is not one of: abnormal_operations, "
        "dishonest_debtor, penalty_publication, sector_blacklist, serious_dishonesty",
        "row 5, column listed_on: '2025/01/06' is not a date in the form YYYY-MM-DD",
        f"row 6, column listed_on: {next_month} is in the future (today is {today})",
        "row 7, column subject_name: is empty; every row needs one",
        "row 8, column decision_no: duplicates row 2 (same decision_no and subject_code)",
    ]
    assert outcome.failure == f"6 rows have errors; {SUMMARY_OF_REJECTION}"
    assert Record.objects.count() == 0
    assert Subject.objects.count() == 0


@pytest.mark.django_db
def test_partial_imports_the_good_rows_and_reports_the_bad(agency, tmp_path):
    rows = [
        company_fined(),
        company_fined(decision_no="深市监罚〔2025〕103号", list_type="blacklist"),
        person_listed(),
        person_listed(decision_no="（2025）粤0304执9号", severity="grave"),
    ]
    path = write_csv(tmp_path / "mixed.csv", rows)

    outcome = import_file(path, "--partial")

    assert outcome.failure is None
    assert outcome.printed == (
        "Imported 2 records (2 new, 0 unchanged); 2 new subjects. Skipped 2 rows with errors."
    )
    assert [line.split(":")[0] for line in outcome.row_errors] == [
        "row 3, column list_type",
        "row 5, column severity",
    ]
    assert records_as_listed() == THE_TWO_RECORDS


@pytest.mark.django_db
def test_importing_the_same_file_twice_changes_nothing(agency, tmp_path):
    path = write_csv(tmp_path / "records.csv", [company_fined(), person_listed()])
    import_file(path)
    first_import = dict(Record.objects.values_list("decision_no", "updated_at"))

    outcome = import_file(path)

    assert outcome.printed == "Imported 2 records (0 new, 2 unchanged); 0 new subjects."
    assert dict(Record.objects.values_list("decision_no", "updated_at")) == first_import
    assert Subject.objects.count() == 2


@pytest.mark.django_db
def test_a_re_import_that_differs_from_the_record_is_refused_as_a_conflict(agency, tmp_path):
    import_file(write_csv(tmp_path / "january.csv", [company_fined()]))
    corrected = write_csv(tmp_path / "corrected.csv", [company_fined(severity="serious")])

    outcome = import_file(corrected)

    assert outcome.row_errors == [
        "row 2, column severity: differs from the record already imported (general); "
        "records are corrected through an objection, not by re-import"
    ]
    assert outcome.failure == f"1 row has errors; {SUMMARY_OF_REJECTION}"
    assert Record.objects.get().severity == "general"


@pytest.mark.django_db
def test_an_existing_subject_keeps_its_name(agency, tmp_path):
    factories.SubjectFactory(code=COMPANY, name="深圳市示例贸易有限公司（旧名）")
    path = write_csv(tmp_path / "records.csv", [company_fined(), person_listed()])

    outcome = import_file(path)

    assert outcome.printed == "Imported 2 records (2 new, 0 unchanged); 1 new subject."
    assert Subject.objects.get(code=COMPANY).name == "深圳市示例贸易有限公司（旧名）"


@pytest.mark.django_db
def test_a_dry_run_reports_what_would_be_imported_and_writes_nothing(agency, tmp_path):
    path = write_csv(tmp_path / "records.csv", [company_fined(), person_listed()])

    outcome = import_file(path, "--dry-run")

    assert outcome.printed == (
        "Dry run: would import 2 records (2 new, 0 unchanged); 2 new subjects. Nothing was written."
    )
    assert Record.objects.count() == 0
    assert Subject.objects.count() == 0


@pytest.mark.django_db
def test_a_record_listed_long_ago_gets_the_periods_of_the_version_in_force_today(agency, tmp_path):
    """Order 36 (in force today) counts from the decision date (Art. 7): a general penalty
    listed in 2018 could be repaired from 2018-09-01 and ended on 2019-06-01."""
    path = write_csv(tmp_path / "old.csv", [company_fined(listed_on="2018-06-01")])

    outcome = import_file(path)

    assert outcome.failure is None
    record = Record.objects.get()
    assert (record.restorable_from, record.expires_on) == (
        datetime.date(2018, 9, 1),
        datetime.date(2019, 6, 1),
    )


@pytest.mark.django_db
def test_a_company_code_made_only_of_digits_is_not_mistaken_for_a_person(agency, tmp_path):
    digits_only = make_uscc(org_body="00000002")
    assert digits_only.isdigit()
    path = write_csv(tmp_path / "records.csv", [company_fined(subject_code=digits_only)])

    import_file(path)

    assert Subject.objects.get(code=digits_only).kind == "legal"


@pytest.mark.django_db
def test_a_resident_id_that_excel_stored_as_a_number_is_refused_with_advice(agency, tmp_path):
    path = write_xlsx(tmp_path / "numbers.xlsx", [person_listed(subject_code=float(PERSON))])

    outcome = import_file(path)

    assert outcome.row_errors == [
        "row 2, column subject_code: is stored as a number, which a spreadsheet keeps to "
        "15 digits only; format the column as text and enter the code again"
    ]


@pytest.mark.django_db
def test_a_legal_basis_with_an_unquoted_comma_is_pointed_out(agency, tmp_path):
    path = tmp_path / "comma.csv"
    path.write_text(
        ",".join(HEADER) + "\n"
        f"penalty_publication,{COMPANY},深圳市前海示例贸易有限公司,深市监罚〔2025〕1号,"
        "第一条,第二条,general,2025-01-06,fine\n",
        encoding="utf-8",
    )

    outcome = import_file(path)

    assert outcome.row_errors[0] == (
        "row 2: has 1 value(s) to the right of the last column ('fine'); "
        "a value with a comma must be in double quotes"
    )


@pytest.mark.django_db
def test_an_unknown_agency_is_refused(agency, tmp_path):
    path = write_csv(tmp_path / "records.csv", [company_fined()])

    outcome = import_file(path, agency="NOSUCH")

    assert outcome.failure == "There is no agency with the code 'NOSUCH'."
    assert Record.objects.count() == 0


@pytest.mark.django_db
def test_a_file_missing_a_column_is_refused_naming_it(agency, tmp_path):
    path = tmp_path / "short.csv"
    path.write_text(
        "list_type,subject_code,subject_name,decision_no,legal_basis,sevrity,listed_on\n",
        encoding="utf-8",
    )

    outcome = import_file(path)

    assert outcome.failure == (
        f"{path}: The header row has missing column(s): severity, penalty_type; "
        "unknown column(s): sevrity. It must name exactly these columns, in any order: "
        "list_type, subject_code, subject_name, decision_no, legal_basis, severity, "
        "listed_on, penalty_type; and may add: penalty_types, fine_amount, procedure, "
        "term_ends_on, decided_on, platforms, measures."
    )


@pytest.mark.django_db
def test_re_importing_a_large_file_costs_a_fixed_number_of_queries(
    agency, tmp_path, django_assert_max_num_queries
):
    rows = [
        company_fined(
            subject_code=make_uscc(org_body=f"{n:08d}"), decision_no=f"深市监罚〔2025〕{n}号"
        )
        for n in range(1, 1201)
    ]
    path = write_csv(tmp_path / "large.csv", rows)
    import_file(path)

    with django_assert_max_num_queries(12):
        outcome = import_file(path)

    assert outcome.printed == "Imported 1200 records (0 new, 1200 unchanged); 0 new subjects."


# --- the columns classification and the periods need (Order 36 Arts. 7–12) -----------------

FULL_HEADER = [*HEADER, "penalty_types", "fine_amount", "procedure", "term_ends_on", "decided_on"]


def write_full_csv(path, rows):
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(FULL_HEADER)
    writer.writerows([row.get(column, "") for column in FULL_HEADER] for row in rows)
    path.write_bytes(text.getvalue().encode("utf-8-sig"))
    return path


@pytest.mark.django_db
def test_the_new_columns_are_imported_and_the_periods_follow_them(agency, tmp_path):
    path = write_full_csv(
        tmp_path / "records.csv",
        [
            company_fined(
                severity="serious",
                penalty_type="practice_restriction",
                penalty_types="fine; practice_restriction",
                fine_amount="200,000",
                procedure="ordinary",
                decided_on="2025-01-02",
                term_ends_on="2030-01-02",
            )
        ],
    )

    outcome = import_file(path)

    assert outcome.failure is None, outcome.row_errors
    record = Record.objects.get()
    assert record.penalty_types == ["fine", "practice_restriction"]
    assert str(record.fine_amount) == "200000.00"
    assert record.decided_on == datetime.date(2025, 1, 2)
    # serious: a year from the decision, but not before the ban's own term (Art. 12)
    assert record.restorable_from == datetime.date(2030, 1, 2)
    assert record.expires_on == datetime.date(2030, 1, 2)


@pytest.mark.django_db
def test_an_empty_severity_is_derived_where_the_columns_decide_it(agency, tmp_path):
    path = write_full_csv(
        tmp_path / "records.csv",
        [
            company_fined(severity="", penalty_type="licence_revocation"),
            company_fined(decision_no="简易〔2025〕1号", severity="", procedure="simplified"),
        ],
    )

    outcome = import_file(path)

    assert outcome.failure is None, outcome.row_errors
    tiers = dict(Record.objects.values_list("decision_no", "severity"))
    assert tiers == {"深市监罚〔2025〕101号": "serious", "简易〔2025〕1号": "minor"}


@pytest.mark.django_db
def test_each_new_column_reports_its_own_row_and_column(agency, tmp_path):
    path = write_full_csv(
        tmp_path / "records.csv",
        [
            company_fined(penalty_types="fine; public_shaming"),
            company_fined(decision_no="b", fine_amount="12.345"),
            company_fined(decision_no="c", procedure="summary"),
            company_fined(decision_no="d", term_ends_on="2030/01/01"),
            company_fined(decision_no="e", decided_on="2025-02-01"),
            company_fined(decision_no="f", penalty_types="warning"),
            company_fined(decision_no="g", severity="", penalty_type="fine"),
        ],
    )

    outcome = import_file(path)

    assert outcome.row_errors == [
        "row 2, column penalty_types: 'public_shaming' is not one of: business_restriction, "
        "closure, confiscation, criticism, fine, licence_revocation, licence_suspension, "
        "listing, practice_restriction, qualification_downgrade, suspension, warning "
        "(separate several with ;)",
        "row 3, column fine_amount: '12.345' is not an amount in yuan with at most 2 decimals",
        "row 4, column procedure: 'summary' is not one of: ordinary, simplified",
        "row 5, column term_ends_on: '2030/01/01' is not a date in the form YYYY-MM-DD",
        "row 6, column decided_on: 2025-02-01 is after listed_on (2025-01-06); a record is "
        "listed on or after its decision",
        "row 7, column penalty_types: does not include penalty_type 'fine'; list every "
        "penalty of the decision, the main one among them",
        "row 8, column severity: is empty, and the rules do not decide the tier from this "
        "row's penalty_types, fine_amount and procedure; give minor, general or serious",
    ]
    assert Record.objects.count() == 0


@pytest.mark.django_db
def test_a_file_with_the_new_columns_imports_again_unchanged(agency, tmp_path):
    row = company_fined(penalty_types="fine", fine_amount="3000", decided_on="2025-01-02")
    path = write_full_csv(tmp_path / "records.csv", [row])
    import_file(path)

    again = import_file(path)

    assert again.printed == "Imported 1 record (0 new, 1 unchanged); 0 new subjects."


# --- where each record is published, and its measures (decision 0024) -----------------

PLACED_HEADER = [*HEADER, "platforms", "measures"]


def write_placed_csv(path, rows):
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(PLACED_HEADER)
    writer.writerows([row.get(column, "") for column in PLACED_HEADER] for row in rows)
    path.write_bytes(text.getvalue().encode("utf-8-sig"))
    return path


def placements(decision_no):
    record = Record.objects.get(decision_no=decision_no)
    return (
        sorted(record.publications.values_list("platform__code", flat=True)),
        sorted(record.measures.values_list("code", flat=True)),
    )


@pytest.mark.django_db
def test_a_row_names_its_platforms_and_an_empty_cell_takes_the_agencys_defaults(
    agency, platforms, tmp_path
):
    creditchina, gsxt = platforms
    penalty = ListType.objects.get(code="penalty_publication")
    debtors = ListType.objects.get(code="dishonest_debtor")
    PublicationDefault.objects.create(agency=agency, list_type=penalty, platform=gsxt)
    PublicationDefault.objects.create(agency=agency, list_type=debtors, platform=creditchina)
    path = write_placed_csv(
        tmp_path / "records.csv",
        [
            company_fined(platforms="creditchina; gsxt"),
            company_fined(decision_no="深市监罚〔2025〕102号"),
            person_listed(measures="procurement;bidding"),
            person_listed(decision_no="（2025）粤0304执9号"),
        ],
    )

    outcome = import_file(path)

    assert outcome.failure is None, outcome.row_errors
    assert placements("深市监罚〔2025〕101号") == (["creditchina", "gsxt"], [])
    assert placements("深市监罚〔2025〕102号") == (["gsxt"], [])
    assert placements("（2025）粤0304执1234号") == (["creditchina"], ["bidding", "procurement"])
    # No measures named: the catalogue's default measures of the list type.
    assert placements("（2025）粤0304执9号") == (
        ["creditchina"],
        sorted(
            Measure.objects.filter(list_type=debtors, is_default=True).values_list(
                "code", flat=True
            )
        ),
    )


@pytest.mark.django_db
def test_an_unknown_platform_or_measure_code_is_named_with_its_row_and_column(
    agency, platforms, tmp_path
):
    path = write_placed_csv(
        tmp_path / "records.csv",
        [
            company_fined(platforms="creditchina;weibo"),
            person_listed(measures="procurement;flying"),
        ],
    )

    outcome = import_file(path)

    assert outcome.row_errors == [
        "row 2, column platforms: unknown platform code(s): 'weibo'; known: creditchina, gsxt",
        "row 3, column measures: unknown measure code(s) for dishonest_debtor: 'flying'; "
        "known: bidding, financing, high_consumption, market_access, procurement",
    ]
    assert Record.objects.count() == 0
    assert Publication.objects.count() == 0
