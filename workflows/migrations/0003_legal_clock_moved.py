"""The legal clock's models now belong to ``cases`` (cases/0013): the route's app
forgets them; the tables and rows are the domain's."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("workflows", "0002_deadline_computation_facts"),
        ("cases", "0013_legal_clock_moved"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="ClockEntry"),
                migrations.DeleteModel(name="Deadline"),
                migrations.DeleteModel(name="CalendarOverride"),
                migrations.DeleteModel(name="CalendarYear"),
            ],
        ),
    ]
