"""AlterLabels: the verbose-name migrations' operations applied to the state at once."""

import pytest
from django.db import connection, migrations, models
from django.db.migrations.state import ModelState, ProjectState

from cases.migration_operations import AlterLabels

pytestmark = pytest.mark.engine_independent


def rendered_state() -> ProjectState:
    state = ProjectState()
    state.add_model(
        ModelState(
            "cases",
            "probe",
            [
                ("id", models.AutoField(primary_key=True)),
                ("name", models.CharField(max_length=20)),
            ],
            {},
        )
    )
    state.apps  # noqa: B018 - rendered, as during migrate
    return state


def test_the_state_ends_as_after_the_operations_one_by_one():
    labels = [
        migrations.AlterField(
            "probe", "name", models.CharField(max_length=20, verbose_name="name", help_text="Who.")
        ),
        migrations.AlterModelOptions("probe", {"verbose_name": "probe", "ordering": ["name"]}),
    ]
    before = rendered_state()
    one_by_one = before.clone()
    for operation in labels:
        operation.state_forwards("cases", one_by_one)
    together = before.clone()
    AlterLabels(labels).state_forwards("cases", together)

    assert together.models == one_by_one.models
    probe = together.apps.get_model("cases", "probe")
    assert probe._meta.get_field("name").help_text == "Who."
    assert probe._meta.verbose_name == "probe"
    # and the database has nothing to do
    AlterLabels(labels).database_forwards(
        "cases", connection.SchemaEditorClass(connection), before, together
    )


def test_a_change_the_database_would_see_is_refused():
    wider = [migrations.AlterField("probe", "name", models.CharField(max_length=40))]
    before = rendered_state()
    after = before.clone()
    AlterLabels(wider).state_forwards("cases", after)

    with pytest.raises(ValueError, match=r"cases\.probe\.name: this change alters the database"):
        AlterLabels(wider).database_forwards(
            "cases", connection.SchemaEditorClass(connection), before, after
        )


def test_only_field_and_model_option_changes_are_taken():
    with pytest.raises(TypeError, match="AlterLabels takes AlterField and AlterModelOptions"):
        AlterLabels([migrations.RemoveField("probe", "name")])
