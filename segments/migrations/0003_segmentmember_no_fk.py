# The member rows of a segment are written and deleted a whole version at a time; the per-row FK check and an
# index that duplicates the primary key's prefix were most of that cost (see segments/models.py SegmentMember).
# Django plans the AlterField below as a no-op for a field inside a composite primary key, so the SQL is explicit.

import django.db.models.deletion
from django.db import migrations, models

DROP_FK_AND_INDEX = """
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT conname FROM pg_constraint
             WHERE conrelid = 'segments_segmentmember'::regclass AND contype = 'f' LOOP
        EXECUTE format('ALTER TABLE segments_segmentmember DROP CONSTRAINT %I', r.conname);
    END LOOP;
END $$;
DROP INDEX IF EXISTS segments_segmentmember_segment_id_c1e098ca;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0002_freshness"),
    ]

    operations = [
        migrations.RunSQL(
            DROP_FK_AND_INDEX,
            reverse_sql=migrations.RunSQL.noop,
            state_operations=[
                migrations.AlterField(
                    model_name="segmentmember",
                    name="segment",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="segments.segment",
                    ),
                ),
            ],
        ),
    ]
