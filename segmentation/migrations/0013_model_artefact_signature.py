"""Stored models carry a signature keyed by SECRET_KEY (segmentation.model_store). The models already
stored are signed here, trusting what the database holds at the upgrade, if their bytes still match
their recorded SHA-256; any other stays unsigned and is refused (train the models again)."""

from django.db import migrations, models


def sign_stored_models(apps, schema_editor):
    from segmentation.artefacts import artefact_sha256
    from segmentation.model_store import artefact_signature

    ModelArtefact = apps.get_model("segmentation", "ModelArtefact")
    for artefact in ModelArtefact.objects.filter(signature="").only("pk", "name", "sha256", "data").iterator():
        if artefact_sha256(bytes(artefact.data)) == artefact.sha256:
            ModelArtefact.objects.filter(pk=artefact.pk).update(
                signature=artefact_signature(name=artefact.name, sha256=artefact.sha256))


class Migration(migrations.Migration):

    dependencies = [
        ('segmentation', '0012_cross_sell_bank_wide'),
    ]

    operations = [
        migrations.AddField(
            model_name='modelartefact',
            name='signature',
            field=models.CharField(blank=True, default='', max_length=64, verbose_name='signature'),
        ),
            migrations.RunPython(sign_stored_models, migrations.RunPython.noop),
    ]
