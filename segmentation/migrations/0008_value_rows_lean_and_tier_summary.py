import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('org', '0001_initial'),
        ('runs', '0001_run_chunk_and_current_pointer'),
        ('segmentation', '0007_model_artefacts_and_predictions'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ValueTierSummary',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('tier', models.CharField(choices=[('A', 'Tier A'), ('B', 'Tier B'), ('C', 'Tier C')], max_length=1, verbose_name='tier')),
                ('customers', models.PositiveIntegerField(verbose_name='customers')),
                ('value', models.FloatField(verbose_name='value')),
            ],
            options={
                'verbose_name': 'value tier summary',
                'verbose_name_plural': 'value tier summaries',
            },
        ),
        migrations.RemoveIndex(
            model_name='customervalue',
            name='custvalue_run_rank_idx',
        ),
        migrations.RemoveIndex(
            model_name='customervalue',
            name='custvalue_run_tier_idx',
        ),
        migrations.RemoveField(
            model_name='customervalue',
            name='drivers',
        ),
        migrations.AlterField(
            model_name='customervalue',
            name='value',
            field=models.FloatField(verbose_name='value'),
        ),
        migrations.AddField(
            model_name='valuetiersummary',
            name='branch',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='org.branch', verbose_name='branch'),
        ),
        migrations.AddField(
            model_name='valuetiersummary',
            name='rm',
            field=models.ForeignKey(db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='RM'),
        ),
        migrations.AddField(
            model_name='valuetiersummary',
            name='run',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='runs.run', verbose_name='run'),
        ),
        migrations.AddConstraint(
            model_name='valuetiersummary',
            constraint=models.UniqueConstraint(fields=('run', 'branch', 'rm', 'tier'), name='valuetiersummary_run_branch_rm_tier_uniq', nulls_distinct=False),
        ),
        # Runs made before this change: their tier summaries and Lorenz points from their rows.
        migrations.RunSQL(
            """
            INSERT INTO segmentation_valuetiersummary (run_id, branch_id, rm_id, tier, customers, value)
            SELECT run_id, branch_id, rm_id, tier, count(*), sum(value)
            FROM segmentation_customervalue GROUP BY run_id, branch_id, rm_id, tier;

            UPDATE runs_run r SET metrics = r.metrics || jsonb_build_object('lorenz', (
                SELECT jsonb_agg(jsonb_build_array(p.x, p.y) ORDER BY p.x) FROM (
                    SELECT 0::float8 AS x, 0::float8 AS y
                    UNION ALL
                    SELECT v.rank::float8 / n.customers, least(v.cumulative_share, 1)
                    FROM segmentation_customervalue v,
                         (SELECT count(*) AS customers FROM segmentation_customervalue WHERE run_id = r.id) n
                    WHERE v.run_id = r.id
                      AND (v.rank % greatest(n.customers / 100, 1) = 0 OR v.rank = n.customers)
                ) p))
            WHERE r.kind = 'value_scoring' AND NOT r.metrics ? 'lorenz'
              AND EXISTS (SELECT 1 FROM segmentation_customervalue v WHERE v.run_id = r.id);
            """,
            migrations.RunSQL.noop,
        ),
    ]

