from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentationConfig(AppConfig):
    name = "segmentation"
    verbose_name = _("Segmentation")

    def ready(self) -> None:
        # The run kinds this app supplies to the batch-run framework (crm_bank.runs).
        from crm_bank.runs.registry import register
        from segmentation.cross_sell import CROSS_SELL_KIND
        from segmentation.segments import SEGMENTATION_KIND
        from segmentation.services import VALUE_SCORING_KIND
        from segmentation.training import MODEL_TRAINING_KIND

        register(VALUE_SCORING_KIND)
        register(SEGMENTATION_KIND)
        register(MODEL_TRAINING_KIND)
        register(CROSS_SELL_KIND)

        # The published value run's tier A is who "the most valuable customers" are for other apps.
        from customers.value_ranking import top_customers_register
        from segmentation.selectors import tier_a_condition

        top_customers_register(tier_a_condition)
