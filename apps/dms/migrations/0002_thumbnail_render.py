# Thumbnail render records (attempts, "no thumbnail"). Thumbnails kept under the old key shared by
# every tenant (thumbnails/{sha[:2]}/{sha}/{n}.png) are rebuilt lazily, not here: after migrate
# (apps.dms.signals) each StoredFile that has one is queued for a render under its own key.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('dms', '0001_initial'),
        ('uploads', '0002_fencing_and_tenant_files'),
    ]

    operations = [
        migrations.CreateModel(
            name='ThumbnailRender',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('state', models.CharField(choices=[('pending', 'Pending'), ('rendering', 'Rendering'), ('done', 'Done'), ('failed', 'No thumbnail')], default='pending', max_length=10)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('detail', models.CharField(blank=True, max_length=500)),
                ('peak_rss', models.PositiveBigIntegerField(blank=True, help_text="Peak resident memory of the last render's process, in bytes.", null=True)),
                ('started', models.DateTimeField(blank=True, null=True)),
                ('updated', models.DateTimeField(auto_now=True)),
                ('stored_file', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='thumbnail_render', to='uploads.storedfile')),
            ],
            options={
                'db_table': 'DMS_ThumbnailRender',
            },
        ),
    ]
