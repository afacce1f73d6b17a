"""AD_Client.StorageQuota: the most bytes a client may store (empty = unlimited, as before)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_system_rows'),
    ]

    operations = [
        migrations.AddField(
            model_name='client',
            name='storage_quota',
            field=models.PositiveBigIntegerField(blank=True, db_column='StorageQuota', help_text='Most bytes the client may store: its files (a file stored once counts once) and its uploads in progress. Empty = unlimited.', null=True, verbose_name='storage quota (bytes)'),
        ),
    ]
