"""Customer models, by concept: the golden record (customer.py), what it holds (holdings.py),
where its data came from (sources.py), and the product's one channel vocabulary (channels.py)."""

from customers.models.channels import (
    CONTACT_CHANNELS,
    TOUCHPOINT_CHANNELS,
    TRANSACTION_CHANNELS,
    Channel,
    channel_choices,
)
from customers.models.customer import Customer, Household, RMAssignment
from customers.models.holdings import Account, AccountHolder, Product, StandingOrder, Transaction
from customers.models.sources import (
    FieldGroup,
    FieldProvenance,
    ImportBatch,
    ImportRow,
    SourceRecord,
    SourceSystem,
)

__all__ = [
    "CONTACT_CHANNELS", "TOUCHPOINT_CHANNELS", "TRANSACTION_CHANNELS", "Account", "AccountHolder", "Channel",
    "Customer", "FieldGroup", "FieldProvenance", "Household", "ImportBatch", "ImportRow", "Product",
    "RMAssignment", "SourceRecord", "SourceSystem", "StandingOrder", "Transaction", "channel_choices",
]
