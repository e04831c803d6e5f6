"""What a customer holds: products, accounts (loans, cards, policies), transactions, orders."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm_bank.org.models import Branch
from crm_bank.ui.names import localized
from customers.models.channels import CHANNEL_MAX_LENGTH, TRANSACTION_CHANNELS, channel_choices
from customers.models.customer import Customer


class Product(models.Model):
    class Category(models.TextChoices):
        CURRENT = "current", _("Current account")
        DEPOSIT = "deposit", _("Deposit")
        LOAN = "loan", _("Loan")
        MORTGAGE = "mortgage", _("Mortgage")
        CARD = "card", _("Card")
        WEALTH = "wealth", _("Wealth / investment")
        INSURANCE = "insurance", _("Insurance")

    # Holdings that are credit, not money the customer keeps with the bank.
    NOT_DEPOSITS = frozenset({Category.LOAN, Category.MORTGAGE, Category.CARD})

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=120)
    name_zh = models.CharField(_("name in Chinese"), max_length=120, blank=True)
    category = models.CharField(_("category"), max_length=10, choices=Category.choices)
    currency = models.CharField(_("currency"), max_length=3, default="CZK")
    is_active = models.BooleanField(_("on sale"), default=True)
    # The staff member customer feedback about this product is routed to (channels' feedback clock).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("product owner"),
    )

    class Meta:
        ordering = ["category", "name"]
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self) -> str:
        return self.localized_name

    @property
    def localized_name(self) -> str:
        return localized(english=self.name, chinese=self.name_zh)


class Account(models.Model):
    """A holding: an account, loan, card or policy, held by one or more customers."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        DORMANT = "dormant", _("Dormant")
        CLOSED = "closed", _("Closed")

    class Repayment(models.TextChoices):
        PAID = "paid", _("Finished, paid")
        DEFAULTED = "defaulted", _("Finished, not paid")
        CURRENT = "current", _("Running, up to date")
        ARREARS = "arrears", _("Running, in arrears")

    class StatementFrequency(models.TextChoices):
        MONTHLY = "monthly", _("Monthly")
        WEEKLY = "weekly", _("Weekly")
        PER_TRANSACTION = "per_txn", _("After each transaction")

    number = models.CharField(_("account number"), max_length=34, unique=True)
    # Indexed by account_product_opened_idx (product, opened_on).
    product = models.ForeignKey(Product, on_delete=models.PROTECT, verbose_name=_("product"), db_index=False)
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="accounts", verbose_name=_("branch"))
    holders = models.ManyToManyField(
        Customer, through="AccountHolder", related_name="accounts", verbose_name=_("holders")
    )
    # A card or a loan is drawn on a current account.
    linked_account = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="linked_products",
        verbose_name=_("linked account"), db_index=False,
    )
    opened_on = models.DateField(_("opened"), null=True, blank=True)  # null: the source did not say
    closed_on = models.DateField(_("closed"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    currency = models.CharField(_("currency"), max_length=3)
    # Null when the source did not report a balance (never guessed).
    balance = models.DecimalField(_("balance"), max_digits=18, decimal_places=2, null=True, blank=True)
    balance_as_of = models.DateField(_("balance as of"), null=True, blank=True)
    statement_frequency = models.CharField(
        _("statements"), max_length=8, choices=StatementFrequency.choices, blank=True
    )
    principal = models.DecimalField(_("principal"), max_digits=18, decimal_places=2, null=True, blank=True)
    term_months = models.PositiveSmallIntegerField(_("term (months)"), null=True, blank=True)
    instalment = models.DecimalField(_("monthly instalment"), max_digits=18, decimal_places=2, null=True, blank=True)
    repayment_status = models.CharField(
        _("repayment"), max_length=10, choices=Repayment.choices, blank=True
    )
    source_ref = models.CharField(_("source reference"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("account / holding")
        verbose_name_plural = _("accounts / holdings")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="account_currency_iso"
            ),
        ]
        indexes = [
            # Loader idempotency and support look-ups: the holding a source row became.
            models.Index(fields=["source_ref"], name="account_source_ref_idx", condition=~models.Q(source_ref="")),
            # Cards and loans drawn on an account (holdings panel).
            models.Index(fields=["linked_account"], name="account_linked_idx"),
            # A product's accounts, and those opened since a day: a campaign's product uptake (the
            # war room's uplift reads a few thousand of a product's hundreds of thousands).
            models.Index(fields=["product", "opened_on"], name="account_product_opened_idx"),
            # The bank's account currencies, which every batch run checks it has rates for before it
            # starts: read from this index one currency at a time (a few probes), not from every account.
            models.Index(fields=["currency"], name="account_currency_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.product})"


class AccountHolder(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        AUTHORISED = "authorised", _("Authorised user")

    # Indexed by account_holder_unique (account, customer) and holder_customer_idx.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="holdings", db_index=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="holdings", db_index=False)
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    since = models.DateField(_("since"), null=True, blank=True)

    class Meta:
        verbose_name = _("account holder")
        verbose_name_plural = _("account holders")
        constraints = [
            models.UniqueConstraint(fields=["account", "customer"], name="account_holder_unique"),
        ]
        indexes = [
            # Holdings panel of the 360° page: a customer's accounts.
            models.Index(fields=["customer", "account"], name="holder_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.role} {self.account_id}"


class Transaction(models.Model):
    class Direction(models.TextChoices):
        CREDIT = "credit", _("Money in")
        DEBIT = "debit", _("Money out")

    class Kind(models.TextChoices):
        CASH_DEPOSIT = "cash_in", _("Cash deposit")
        CASH_WITHDRAWAL = "cash_out", _("Cash withdrawal")
        CARD_WITHDRAWAL = "card_out", _("Card withdrawal")
        CARD_PAYMENT = "card_pay", _("Card payment")
        TRANSFER_IN = "xfer_in", _("Transfer from another bank")
        TRANSFER_OUT = "xfer_out", _("Transfer to another bank")
        INTEREST = "interest", _("Interest")
        FEE = "fee", _("Fee")
        LOAN_REPAYMENT = "loan_pay", _("Loan repayment")
        OTHER = "other", _("Other")

    # Indexed by txn_account_booked_cover_idx (a plain one would cost ~1 GB at 50M rows).
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="transactions", db_index=False)
    booked_at = models.DateTimeField(_("booked"))
    amount = models.DecimalField(_("amount"), max_digits=18, decimal_places=2)
    direction = models.CharField(_("direction"), max_length=6, choices=Direction.choices)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    channel = models.CharField(
        _("channel"), max_length=CHANNEL_MAX_LENGTH, choices=channel_choices(TRANSACTION_CHANNELS)
    )
    purpose = models.CharField(_("purpose"), max_length=40, blank=True)
    balance_after = models.DecimalField(_("balance after"), max_digits=18, decimal_places=2, null=True, blank=True)
    counterparty_bank = models.CharField(_("counterparty bank"), max_length=11, blank=True)
    counterparty_account = models.CharField(_("counterparty account"), max_length=34, blank=True)
    source_ref = models.CharField(_("source reference"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("transaction")
        verbose_name_plural = _("transactions")
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="transaction_amount_not_negative"),
        ]
        indexes = [
            # 360° page: a customer's accounts' transactions, newest first, paginated. The columns
            # the segmentation feature step sums ride along (INCLUDE), so a run reads a chunk's
            # twelve months from the index alone, never the table (5 µs a row from the heap, well
            # under 1 µs from the index); it is a third larger than the plain index.
            models.Index(
                fields=["account", "-booked_at", "-id"], name="txn_account_booked_cover_idx",
                include=["amount", "direction", "kind", "channel"],
            ),
            # By booking date: the latest transaction in one probe (the runs' default as-of date,
            # 5 s at 50M rows account by account) and the bank's reads by period.
            models.Index(fields=["booked_at"], name="txn_booked_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.booked_at:%Y-%m-%d} {self.direction} {self.amount}"

    @property
    def signed_amount(self):
        return self.amount if self.direction == self.Direction.CREDIT else -self.amount


class StandingOrder(models.Model):
    """A permanent payment order set up by an account's owner."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="standing_orders", db_index=False)
    counterparty_bank = models.CharField(_("recipient bank"), max_length=11)
    counterparty_account = models.CharField(_("recipient account"), max_length=34)
    amount = models.DecimalField(_("amount"), max_digits=18, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    purpose = models.CharField(_("purpose"), max_length=40, blank=True)
    source_ref = models.CharField(_("source reference"), max_length=64, unique=True)

    class Meta:
        verbose_name = _("standing order")
        verbose_name_plural = _("standing orders")
        indexes = [
            # Holdings panel: standing orders of a customer's accounts.
            models.Index(fields=["account"], name="standing_order_account_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} → {self.counterparty_bank}/{self.counterparty_account} {self.amount}"
