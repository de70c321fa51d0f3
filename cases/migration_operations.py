"""A migration operation for changes that leave the database as it is.

Django applies every ``AlterField`` and ``AlterModelOptions`` to its migration state by
rendering the model, and the models related to it, again. The migrations that gave every
field and model its verbose name (``*_h15_verbose_names``) hold more than 450 of them, and
rendering them one by one took 38 of the 50 seconds ``migrate`` spent on a new database:
for every test run, every pytest-xdist worker and every fresh install. ``AlterLabels``
applies such a run of operations to the state first and renders the models once.
"""

from __future__ import annotations

from django.db import migrations
from django.db.migrations.operations.base import Operation


class AlterLabels(Operation):
    """``AlterField`` and ``AlterModelOptions`` operations that change only what Django
    shows (verbose names, help texts, the labels of choices, ordering), applied together.

    The migration state ends exactly as after the operations one by one; the database is
    not touched. A field change the database would see is refused when the migration
    runs: write that one as a plain ``AlterField``.
    """

    def __init__(self, operations):
        for operation in operations:
            if not isinstance(operation, migrations.AlterField | migrations.AlterModelOptions):
                raise TypeError(
                    f"AlterLabels takes AlterField and AlterModelOptions, not {operation!r}"
                )
        self.operations = list(operations)

    def deconstruct(self):
        return (self.__class__.__qualname__, [], {"operations": self.operations})

    def state_forwards(self, app_label, state):
        # ``ProjectState.reload_model`` renders again only when the state's apps are rendered
        # (the ``apps`` cached property): set them aside while the operations change the
        # model states, then render what they touched, and what relates to it, once.
        rendered = state.__dict__.pop("apps", None)
        try:
            for operation in self.operations:
                operation.state_forwards(app_label, state)
        finally:
            if rendered is not None:
                state.__dict__["apps"] = rendered
        touched = {
            (
                app_label,
                operation.name_lower if _is_options(operation) else operation.model_name_lower,
            )
            for operation in self.operations
        }
        state.reload_models(touched, delay=False)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        self._refuse_database_changes(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        self._refuse_database_changes(app_label, schema_editor, to_state, from_state)

    def _refuse_database_changes(self, app_label, schema_editor, old_state, new_state):
        for operation in self.operations:
            if _is_options(operation):
                continue
            old = old_state.apps.get_model(app_label, operation.model_name)
            new = new_state.apps.get_model(app_label, operation.model_name)
            if not self.allow_migrate_model(schema_editor.connection.alias, new):
                continue
            old_field = old._meta.get_field(operation.name)
            new_field = new._meta.get_field(operation.name)
            if schema_editor._field_should_be_altered(old_field, new_field):
                raise ValueError(
                    f"{app_label}.{operation.model_name}.{operation.name}: this change alters "
                    "the database; write it as a migrations.AlterField outside AlterLabels"
                )

    def references_model(self, name, app_label):
        return any(operation.references_model(name, app_label) for operation in self.operations)

    def references_field(self, model_name, name, app_label):
        return any(
            operation.references_field(model_name, name, app_label) for operation in self.operations
        )

    def describe(self):
        return f"Alter the labels of {len(self.operations)} fields and models"

    @property
    def migration_name_fragment(self):
        return "alter_labels"


def _is_options(operation) -> bool:
    return isinstance(operation, migrations.AlterModelOptions)
