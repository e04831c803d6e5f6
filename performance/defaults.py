"""The bank's starting KPI model (editable in admin afterwards): the migration that seeds it and
performance.services.kpis_ensure both read it. Weights are per role: an RM is scored on what an RM
moves (customers, products, campaign conversions, contact of top customers, data, KYC); a branch
also on complaints and retention."""

from __future__ import annotations

# code, name, name_zh, measure, unit, direction, weight_rm, weight_branch
DEFAULT_KPIS = (
    ("new-customers", "New customers acquired", "新增客户", "new_customers", "count", "higher", "15", "10"),
    ("net-deposits", "Net deposit growth", "存款净增长", "net_deposit_growth", "amount", "higher", "15", "15"),
    ("products-per-customer", "Products per customer", "户均产品数", "products_per_customer", "ratio", "higher",
     "10", "10"),
    ("campaign-conversion", "Campaign conversion rate", "营销活动转化率", "campaign_conversion", "percent", "higher",
     "15", "10"),
    ("tier-a-coverage", "Contact coverage of tier-A customers", "A 层客户接触覆盖率", "tier_a_coverage", "percent",
     "higher", "15", "10"),
    ("complaint-sla", "Complaints resolved within SLA", "投诉按时解决率", "complaint_sla", "percent", "higher",
     "10", "15"),
    ("skip-level-complaints", "Skip-level complaints", "越级投诉", "skip_level_complaints", "count", "lower",
     "0", "10"),
    ("retention", "Retention rate", "客户保有率", "retention_rate", "percent", "higher", "10", "10"),
    ("data-completeness", "Data completeness", "资料完整度", "data_completeness", "percent", "higher", "5", "5"),
    ("kyc-on-time", "KYC reviews on time", "KYC 按时复核率", "kyc_on_time", "percent", "higher", "5", "5"),
)
