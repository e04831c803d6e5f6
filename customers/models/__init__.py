"""Customer models, by concept: the golden record (customer.py), what it holds (holdings.py),
where its data came from (sources.py), and the product's one channel vocabulary (channels.py)."""

from customers.models.channels import (
    CONTACT_CHANNELS,
    TOUCHPOINT_CHANNELS,
    TRANSACTION_CHANNELS,
    Channel,
    channel_choices,
)
from customers.models.contact_recency import CustomerContactRecency
from customers.models.customer import Customer, Household, RMAssignment
from customers.models.holdings import Account, AccountHolder, Product, StandingOrder, Transaction
from customers.models.matching import CustomerMerge, MatchCandidate, SurvivorshipRule
from customers.models.sources import (
    FIELD_GROUPS,
    FieldGroup,
    FieldProvenance,
    ImportBatch,
    ImportRow,
    SourceRecord,
    SourceSystem,
)
from customers.models.unmasking import UnmaskGrant

__all__ = [
    "CONTACT_CHANNELS", "FIELD_GROUPS", "TOUCHPOINT_CHANNELS", "TRANSACTION_CHANNELS", "Account", "AccountHolder",
    "Channel", "Customer", "CustomerContactRecency", "CustomerMerge", "FieldGroup", "FieldProvenance", "Household",
    "ImportBatch", "ImportRow", "Product",
    "MatchCandidate", "RMAssignment", "SourceRecord", "SourceSystem", "StandingOrder", "SurvivorshipRule",
    "Transaction", "UnmaskGrant", "channel_choices",
]
