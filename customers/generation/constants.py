"""Tables shared by the generator's modules: the null marker, branch cities, products, lifecycle stages."""

from __future__ import annotations

import numpy as np
from numpy.dtypes import StringDType

from customers.models import Customer, Product

_S = StringDType()
_NULL = np.iinfo(np.int64).min  # "no value" in integer columns: ids, day numbers, cents
_DAY = 86_400

# (English city, Chinese city, region, province code of resident IDs, postal-code prefix)
_BRANCH_CITIES = (
    ("Beijing", "北京市", "North China", 11, 100), ("Shanghai", "上海市", "East China", 31, 200),
    ("Guangzhou", "广州市", "South China", 44, 510), ("Shenzhen", "深圳市", "South China", 44, 518),
    ("Chengdu", "成都市", "Southwest China", 51, 610), ("Hangzhou", "杭州市", "East China", 33, 310),
    ("Wuhan", "武汉市", "Central China", 42, 430), ("Xi'an", "西安市", "Northwest China", 61, 710),
    ("Nanjing", "南京市", "East China", 32, 210), ("Tianjin", "天津市", "North China", 12, 300),
    ("Chongqing", "重庆市", "Southwest China", 50, 400), ("Suzhou", "苏州市", "East China", 32, 215),
    ("Changsha", "长沙市", "Central China", 43, 410), ("Qingdao", "青岛市", "East China", 37, 266),
    ("Zhengzhou", "郑州市", "Central China", 41, 450), ("Shenyang", "沈阳市", "Northeast China", 21, 110),
    ("Xiamen", "厦门市", "East China", 35, 361), ("Kunming", "昆明市", "Southwest China", 53, 650),
    ("Harbin", "哈尔滨市", "Northeast China", 23, 150), ("Dalian", "大连市", "Northeast China", 21, 116),
)
_PRODUCTS = (
    ("CNY-CURRENT", "Current account", Product.Category.CURRENT),
    ("CNY-SAVINGS", "Savings deposit", Product.Category.DEPOSIT),
    ("CNY-TERM", "Term deposit", Product.Category.DEPOSIT),
    ("CNY-CARD", "Credit card", Product.Category.CARD),
    ("CNY-CONSUMER-LOAN", "Consumer loan", Product.Category.LOAN),
    ("CNY-MORTGAGE", "Mortgage", Product.Category.MORTGAGE),
    ("CNY-WEALTH-FUND", "Wealth management fund", Product.Category.WEALTH),
    ("CNY-INSURANCE", "Life insurance", Product.Category.INSURANCE),
)
CURRENT, SAVINGS, TERM, CARD, LOAN, MORTGAGE, WEALTH, INSURANCE = range(len(_PRODUCTS))
_DEPOSIT_PRODUCTS = (CURRENT, SAVINGS, TERM)

_STAGES = np.array([s.value for s in Customer.Lifecycle], dtype=_S)
PROSPECT, ACTIVE, LOYAL, DORMANT, CLOSED = range(len(_STAGES))
_STAGE_P = (0.03, 0.58, 0.22, 0.12, 0.05)
# Transactions per year relative to an ordinary customer, by lifecycle stage.
_ACTIVITY = np.array([0.0, 1.0, 1.5, 0.3, 0.5])
