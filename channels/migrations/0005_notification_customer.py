"""Notifications name the customer they are about (the retention run erases their text with the
customer's data). Earlier notifications get theirs from their link: a 360° page or a complaint."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


# Only links to a customer that exists (a 360° page's id comes from the text of the link).
BACKFILL = r"""
UPDATE channels_notification n SET customer_id = c.id
FROM customers_customer c
WHERE n.customer_id IS NULL AND n.url ~ '/customers/[0-9]{1,18}/$'
  AND c.id = substring(n.url FROM '/customers/([0-9]{1,18})/$')::bigint;
UPDATE channels_notification n SET customer_id = k.customer_id
FROM channels_complaint k
WHERE n.customer_id IS NULL AND n.url ~ '/complaints/[0-9]{1,18}/$'
  AND k.id = substring(n.url FROM '/complaints/([0-9]{1,18})/$')::bigint;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('channels', '0004_task_list_unread_notification_interaction_brin_indexes'),
        ('customers', '0028_customer_last_contact_indexes_to_recency'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='notification',
            name='customer',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='customers.customer', verbose_name='customer'),
        ),
        migrations.AddIndex(
            model_name='notification',
            index=models.Index(condition=models.Q(('customer__isnull', False)), fields=['customer'], name='notification_customer_idx'),
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
    ]
