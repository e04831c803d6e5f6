"""Fitted models as run artefacts: bytes the application wrote itself, checked by SHA-256 before
they are unpickled (joblib). Never load an artefact that came from anywhere else."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from typing import Any, Self

import joblib
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from threadpoolctl import threadpool_limits


def artefact_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_trusted_artefact(data: bytes, expected_sha256: str) -> dict[str, Any]:
    """Unpickle our own artefact after checking its digest (a changed or foreign blob is refused unread)."""
    if not expected_sha256:
        raise ValueError("An expected SHA-256 is required to load a model artefact.")
    actual = artefact_sha256(data)
    if actual != expected_sha256.lower():
        raise ValueError(
            f"Model artefact SHA-256 mismatch: expected {expected_sha256}, got {actual}. Refusing to load it."
        )
    return joblib.load(io.BytesIO(data))


@dataclass
class StoredModel:
    """A fitted classifier, its report and the feature columns it reads; subclasses check their
    frames in `predict_proba` and call `_scores`."""

    estimator: BaseEstimator
    report: dict[str, Any] = field(default_factory=dict)
    features: tuple[str, ...] = ()

    def _scores(self, frame: pd.DataFrame) -> np.ndarray:
        # One thread: a model's own thread pool competed with the workers' on two cores (203 s vs 11 s).
        with threadpool_limits(limits=1):
            return self.estimator.predict_proba(frame.loc[:, list(self.features)])[:, 1]

    def to_bytes(self) -> bytes:
        """Serialised model for a run artefact; the SHA-256 to check on load is ``artefact_sha256(data)``."""
        buffer = io.BytesIO()
        joblib.dump({"estimator": self.estimator, "report": self.report, "features": self.features}, buffer)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, expected_sha256: str) -> Self:
        """Load an artefact this application wrote (digest-checked). Never call this on foreign bytes."""
        payload = load_trusted_artefact(data, expected_sha256)
        return cls(estimator=payload["estimator"], report=payload["report"], features=tuple(payload["features"]))
