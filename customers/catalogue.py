"""Chinese names of the product catalogue's products, by product code (the demo's Czech and
Portuguese products and the synthetic bank's CNY products)."""

from __future__ import annotations

PRODUCT_NAMES_ZH: dict[str, str] = {
    "CZ-CURRENT": "活期账户",
    "CZ-LOAN": "消费贷款",
    "CZ-CARD-CLASSIC": "经典借记卡",
    "CZ-CARD-JUNIOR": "青少年借记卡",
    "CZ-CARD-GOLD": "金卡",
    "PT-CURRENT": "活期账户（欧元）",
    "PT-MORTGAGE": "住房贷款（欧元）",
    "PT-PERSONAL": "个人贷款（欧元）",
    "PT-TERM": "定期存款（欧元）",
    "CNY-CURRENT": "活期账户",
    "CNY-SAVINGS": "储蓄存款",
    "CNY-TERM": "定期存款",
    "CNY-CARD": "信用卡",
    "CNY-CONSUMER-LOAN": "消费贷款",
    "CNY-MORTGAGE": "住房按揭贷款",
    "CNY-WEALTH-FUND": "理财基金",
    "CNY-INSURANCE": "人寿保险",
}
