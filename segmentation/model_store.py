"""Fitted models as run artefacts: stored with the run that trained them, loaded only after their
SHA-256 matches the one recorded at training and that digest carries this application's signature,
and kept loaded per process by that digest.

Unpickling runs code, so only rows this application wrote are ever loaded (segmentation/artefacts.py):
a blob changed in the database is refused before joblib sees it, and so is one whose digest was
changed with it — the signature is an HMAC keyed by SECRET_KEY, which the database does not hold, so
write access to the table is not enough to have a worker unpickle something else.
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from crm_bank.runs.errors import RunError
from crm_bank.runs.models import Run
from segmentation.artefacts import StoredModel, artefact_sha256
from segmentation.churn import ChurnModel
from segmentation.models import ModelArtefact
from segmentation.propensity import ResponseModel

MODEL_CLASSES: dict[str, type[StoredModel]] = {
    ModelArtefact.Name.RESPONSE: ResponseModel,
    ModelArtefact.Name.CHURN: ChurnModel,
}

# Loaded models by SHA-256: a worker scoring fifty chunks of one run unpickles each model once.
_loaded: dict[str, StoredModel] = {}


class ArtefactRefused(RunError):
    """A stored model whose bytes no longer match their recorded digest, or whose digest does not
    carry this application's signature."""


_SIGNATURE_SALT = "segmentation.model_store.artefact"


def artefact_signature(*, name: str, sha256: str, secret: str | None = None) -> str:
    """HMAC-SHA256 of the artefact's name and digest, keyed by SECRET_KEY (or `secret`)."""
    return salted_hmac(_SIGNATURE_SALT, f"{name}:{sha256}", secret=secret, algorithm="sha256").hexdigest()


def artefact_signature_valid(*, name: str, sha256: str, signature: str) -> bool:
    """Signed with SECRET_KEY or one of SECRET_KEY_FALLBACKS (a rotated key keeps its models)."""
    return bool(signature) and any(
        constant_time_compare(artefact_signature(name=name, sha256=sha256, secret=key), signature)
        for key in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)
    )


def json_safe(value: Any) -> Any:
    """jsonb has no NaN or infinity, and no numpy scalars: a report as plain JSON values."""
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def model_artefact_store(*, run: Run, name: str, model: StoredModel) -> ModelArtefact:
    """Saves `model` as the run's artefact `name` (replacing one a repeated step wrote)."""
    data = model.to_bytes()
    sha256 = artefact_sha256(data)
    ModelArtefact.objects.filter(run=run, name=name).delete()
    return ModelArtefact.objects.create(
        run=run, name=name, version=str(model.report.get("model_version", "")), sha256=sha256,
        signature=artefact_signature(name=name, sha256=sha256), data=data, report=json_safe(model.report),
    )


def models_load(*, run_id: int) -> dict[str, StoredModel]:
    """The run's fitted models by name, each checked against its recorded SHA-256 and that digest's
    signature (ArtefactRefused when either fails: nothing is unpickled)."""
    models = {}
    for artefact in ModelArtefact.objects.filter(run_id=run_id).only("name", "sha256", "signature", "data"):
        if not artefact_signature_valid(name=artefact.name, sha256=artefact.sha256, signature=artefact.signature):
            raise ArtefactRefused(
                _("The stored %(model)s model of run #%(run)s does not carry this application's signature: it was "
                  "not written by this application with its secret key, and is refused. Train the models again.")
                % {"model": artefact.name, "run": run_id}
            )
        data = bytes(artefact.data)
        if artefact_sha256(data) != artefact.sha256:
            raise ArtefactRefused(
                _("The stored %(model)s model of run #%(run)s does not match its recorded SHA-256: it was changed "
                  "after training and is refused. Train the models again.")
                % {"model": artefact.name, "run": run_id}
            )
        model = _loaded.get(artefact.sha256)
        if model is None:
            model = MODEL_CLASSES[artefact.name].from_bytes(data, artefact.sha256)
            _loaded[artefact.sha256] = model
        models[artefact.name] = model
    return models
