"""The golden customer record: a person or company, its household, and who its RM was."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from crm_bank.org.models import Branch
from crm_bank.ui.links import id_url
from crm_bank.ui.names import person_name
from customers.models.channels import CHANNEL_MAX_LENGTH, CONTACT_CHANNELS, TOUCHPOINT_CHANNELS, channel_choices


class Household(models.Model):
    """A family or a corporate group whose members are served together."""

    class Kind(models.TextChoices):
        FAMILY = "family", _("Family")
        CORPORATE_GROUP = "corporate_group", _("Corporate group")

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.FAMILY)

    class Meta:
        verbose_name = _("household / relationship group")
        verbose_name_plural = _("households / relationship groups")

    def __str__(self) -> str:
        return self.name


class Occupation(models.TextChoices):
    """Occupations that source systems send as codes; other sources send free text."""

    ADMIN = "admin.", _("Administrative staff")
    BLUE_COLLAR = "blue-collar", _("Blue-collar worker")
    ENTREPRENEUR = "entrepreneur", _("Entrepreneur")
    HOUSEMAID = "housemaid", _("Housemaid")
    MANAGEMENT = "management", _("Management")
    RETIRED = "retired", _("Retired")
    SELF_EMPLOYED = "self-employed", _("Self-employed")
    SERVICES = "services", _("Services")
    STUDENT = "student", _("Student")
    TECHNICIAN = "technician", _("Technician")
    UNEMPLOYED = "unemployed", _("Unemployed")


class Interest(models.TextChoices):
    TRAVEL = "travel", _("Travel")
    WEALTH_MANAGEMENT = "wealth_management", _("Wealth management")
    INSURANCE = "insurance", _("Insurance")
    REAL_ESTATE = "real_estate", _("Real estate")
    EDUCATION = "education", _("Education")
    RETIREMENT = "retirement", _("Retirement")
    CARS = "cars", _("Cars")
    SPORTS = "sports", _("Sports")
    TECHNOLOGY = "technology", _("Technology")
    OVERSEAS_STUDY = "overseas_study", _("Overseas study")
    HEALTH = "health", _("Health")
    FAMILY = "family", _("Family")


# Fields whose presence makes a record usable for service and marketing, with weights (the
# completeness score; the 360° page lists the missing ones). Fields that may be NULL count when not
# NULL, text fields when not empty.
COMPLETENESS_FIELDS: tuple[tuple[str, int], ...] = (
    ("national_id", 3), ("birth_date", 2), ("gender", 1), ("phone", 3), ("email", 2),
    ("address_line", 2), ("city", 1), ("occupation", 1), ("preferred_channel", 1),
    ("preferred_language", 1), ("marketing_consent_at", 1), ("kyc_review_due", 1),
)
_NULLABLE_COMPLETENESS_FIELDS = frozenset({"birth_date", "marketing_consent_at", "kyc_review_due"})
COMPLETENESS_TOTAL = sum(weight for _, weight in COMPLETENESS_FIELDS)
# Below this a profile counts as incomplete (list filter, leaderboards; the partial indexes say so too).
INCOMPLETE_BELOW = 80


def completeness_from_points(points: int) -> int:
    """Filled weight → percent, rounded half up in integers, exactly as the stored column computes it."""
    return (200 * points + COMPLETENESS_TOTAL) // (2 * COMPLETENESS_TOTAL)


def _completeness_expression() -> models.Expression:
    """The stored score's SQL: the same weights and rounding as completeness_from_points."""
    points = None
    for name, weight in COMPLETENESS_FIELDS:
        filled = models.Q(**{f"{name}__isnull": False}) if name in _NULLABLE_COMPLETENESS_FIELDS \
            else ~models.Q(**{name: ""})
        term = models.Case(models.When(filled, then=models.Value(weight)), default=models.Value(0),
                           output_field=models.IntegerField())
        points = term if points is None else points + term
    return (points * models.Value(200) + models.Value(COMPLETENESS_TOTAL)) / models.Value(2 * COMPLETENESS_TOTAL)


def _label(choices: type[models.TextChoices], code: str) -> str:
    return str(choices(code).label) if code in choices.values else code


class Customer(models.Model):
    class Kind(models.TextChoices):
        INDIVIDUAL = "individual", _("Individual")
        CORPORATE = "corporate", _("Corporate")

    class Gender(models.TextChoices):
        FEMALE = "F", _("Female")
        MALE = "M", _("Male")
        UNKNOWN = "", _("Not stated")

    class IdType(models.TextChoices):
        CN_RIC = "CN_RIC", _("PRC resident identity card")
        CZ_RC = "CZ_RC", _("Czech birth number")
        PASSPORT = "PASSPORT", _("Passport")
        COMPANY_REG = "COMPANY_REG", _("Company registration number")

    class MaritalStatus(models.TextChoices):
        SINGLE = "single", _("Single")
        MARRIED = "married", _("Married")
        DIVORCED = "divorced", _("Divorced")
        WIDOWED = "widowed", _("Widowed")

    class Education(models.TextChoices):
        PRIMARY = "primary", _("Primary")
        SECONDARY = "secondary", _("Secondary")
        TERTIARY = "tertiary", _("Tertiary")
        POSTGRADUATE = "postgraduate", _("Postgraduate")

    class Lifecycle(models.TextChoices):
        PROSPECT = "prospect", _("Prospect")
        CUSTOMER = "customer", _("Customer")
        LOYAL = "loyal", _("Loyal")
        DORMANT = "dormant", _("Dormant")
        CLOSED = "closed", _("Closed")

    class ContactTime(models.TextChoices):
        ANY = "any", _("Any time")
        MORNING = "morning", _("Morning")
        AFTERNOON = "afternoon", _("Afternoon")
        EVENING = "evening", _("Evening")

    class ConsentSource(models.TextChoices):
        BRANCH_FORM = "branch_form", _("Signed form at a branch")
        WEB = "web", _("Internet banking")
        MOBILE = "mobile", _("Mobile app")
        CALL_CENTRE = "call_centre", _("Recorded call")
        IMPORTED = "imported", _("Imported from a source system")

    class HouseholdRole(models.TextChoices):
        HEAD = "head", _("Head")
        SPOUSE = "spouse", _("Spouse / partner")
        CHILD = "child", _("Child")
        OTHER = "other", _("Other member")
        PARENT_COMPANY = "parent", _("Parent company")
        SUBSIDIARY = "subsidiary", _("Subsidiary")

    cif = models.CharField(_("customer number"), max_length=20, unique=True)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.INDIVIDUAL)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    legal_name = models.CharField(_("legal name"), max_length=200, blank=True)
    # Transliterated lower-case "first last" and "last first" (汉字 → pinyin), for prefix search.
    # Collation "C": one plain b-tree then serves both `LIKE 'li w%'` and `ORDER BY name_key`.
    name_key = models.CharField(max_length=220, editable=False, db_collation="C")
    name_key_reversed = models.CharField(max_length=220, editable=False, db_collation="C")
    national_id_type = models.CharField(
        _("ID type"), max_length=12, choices=IdType.choices, blank=True
    )
    national_id = models.CharField(_("national ID"), max_length=32, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True)
    occupation = models.CharField(_("occupation"), max_length=60, blank=True)
    marital_status = models.CharField(
        _("marital status"), max_length=20, choices=MaritalStatus.choices, blank=True
    )
    education = models.CharField(_("education"), max_length=30, choices=Education.choices, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)  # E.164
    email = models.EmailField(_("e-mail"), blank=True)
    address_line = models.CharField(_("address"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=12, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    # db_index=False on foreign keys whose column leads a named composite index below: the
    # plain one would only cost space and write time at a million customers.
    home_branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="customers", verbose_name=_("home branch"),
        db_index=False,
    )
    primary_rm = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="book", verbose_name=_("relationship manager"), db_index=False,
    )
    lifecycle_stage = models.CharField(
        _("lifecycle stage"), max_length=10, choices=Lifecycle.choices, default=Lifecycle.CUSTOMER
    )
    customer_since = models.DateField(_("customer since"), null=True, blank=True)
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=CHANNEL_MAX_LENGTH, choices=channel_choices(CONTACT_CHANNELS), blank=True
    )
    preferred_contact_time = models.CharField(
        _("preferred contact time"), max_length=10, choices=ContactTime.choices,
        default=ContactTime.ANY,
    )
    preferred_language = models.CharField(
        _("preferred language"), max_length=10, choices=settings.LANGUAGES, blank=True
    )
    interests = ArrayField(
        models.CharField(max_length=40), verbose_name=_("interests"), default=list, blank=True
    )
    marketing_consent = models.BooleanField(_("marketing consent"), default=False)
    marketing_consent_at = models.DateTimeField(_("consent given / withdrawn at"), null=True, blank=True)
    marketing_consent_source = models.CharField(
        _("consent source"), max_length=12, choices=ConsentSource.choices, blank=True
    )
    do_not_contact = models.BooleanField(_("do not contact"), default=False)
    kyc_review_due = models.DateField(_("KYC review due"), null=True, blank=True)
    household = models.ForeignKey(
        Household, on_delete=models.SET_NULL, null=True, blank=True, related_name="members",
        verbose_name=_("household / relationship group"), db_index=False,
    )
    household_role = models.CharField(
        _("role in household"), max_length=12, choices=HouseholdRole.choices, blank=True
    )
    # Set by the channels that record a contact; shown bank-wide so nobody treats the
    # customer as new. Not indexed here: every contact updates it, so the orders by it read the
    # narrow copy the database keeps (CustomerContactRecency), and the row is updated in place.
    last_contact_at = models.DateTimeField(_("last contact"), null=True, blank=True)
    last_contact_channel = models.CharField(
        _("last contact channel"), max_length=CHANNEL_MAX_LENGTH, choices=channel_choices(TOUCHPOINT_CHANNELS),
        blank=True,
    )
    # A merged-away record stays as a tombstone pointing at the record that absorbed it: its old
    # links redirect there, and an unmerge brings it back as it was.
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("merged into"),
        db_index=False,
    )  # indexed by customer_merged_into_idx
    # The weighted completeness score (0–100), computed by PostgreSQL from the row itself whatever
    # wrote it (a form, an import's bulk UPDATE, a merge), so the list can filter and rank by it.
    completeness = models.GeneratedField(
        expression=_completeness_expression(), output_field=models.PositiveSmallIntegerField(),
        db_persist=True, verbose_name=_("completeness (%)"),
    )
    # Source facts with no column of their own (e.g. the age a campaign file reported).
    attributes = models.JSONField(_("source attributes"), default=dict, blank=True)
    # Set by the retention run (customers.retention) when the personal data was erased.
    anonymised_at = models.DateTimeField(_("anonymised"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    history = HistoricalRecords(excluded_fields=["name_key", "name_key_reversed", "updated_at", "completeness"])

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        constraints = [
            # A national ID is stored once: two golden records with one ID are a duplicate.
            models.UniqueConstraint(
                fields=["national_id_type", "national_id"],
                condition=~models.Q(national_id=""),
                name="customer_national_id_unique",
                violation_error_message=_("A customer with this national ID already exists."),
            ),
            models.CheckConstraint(
                condition=models.Q(marketing_consent=False) | models.Q(do_not_contact=False),
                name="customer_consent_not_with_do_not_contact",
                violation_error_message=_("A customer who asked not to be contacted cannot give marketing consent."),
            ),
        ]
        indexes = [
            # Customer list, default order and name-prefix search ("li w…").
            models.Index(fields=["name_key", "id"], name="customer_name_key_idx"),
            # Name-prefix search typed surname first ("wei li", "novak jan").
            # It carries name_key and id so a search can order its matches from the index alone.
            models.Index(fields=["name_key_reversed"], include=["name_key", "id"], name="customer_name_rev_idx"),
            # Customer list filtered by branch, in name order.
            models.Index(fields=["home_branch", "name_key", "id"], name="customer_branch_name_idx"),
            # A branch's customers in id order: the value-tier filter's count merge-joins them with the
            # tier's (run, tier, customer) entries (segmentation.selectors.customer_tier_filter).
            models.Index(fields=["home_branch", "id"], name="customer_branch_id_idx"),
            # "My book": an RM's customers in name order; RM filter on the list.
            models.Index(fields=["primary_rm", "name_key", "id"], name="customer_rm_name_idx"),
            # Customer list filtered by lifecycle stage, in name order.
            models.Index(fields=["lifecycle_stage", "name_key", "id"], name="customer_stage_name_idx"),
            # Search by national ID alone (the unique constraint leads with the ID type).
            models.Index(fields=["national_id"], name="customer_national_id_idx", condition=~models.Q(national_id="")),
            # Search by phone number (exact, E.164).
            models.Index(fields=["phone"], name="customer_phone_idx", condition=~models.Q(phone="")),
            # "KYC reviews due" on an RM's landing page.
            models.Index(fields=["primary_rm", "kyc_review_due"], name="customer_rm_kyc_idx"),
            # The hourly KYC-refresh task generator: reviews due by a date, bank-wide, of customers
            # with an RM (channels.services.work.kyc_refresh_tasks_create).
            models.Index(fields=["kyc_review_due"], name="customer_kyc_due_idx",
                         condition=models.Q(primary_rm__isnull=False)),
            # Ownership-conflict guard: same birth date and same transliterated "first last"
            # (channels.services.continuity.customer_ownership_conflicts).
            models.Index(fields=["birth_date", "name_key"], name="customer_birth_name_idx",
                         condition=models.Q(birth_date__isnull=False)),
            # Household panel on the 360° page.
            models.Index(fields=["household"], name="customer_household_idx"),
            # Tombstones pointing at a survivor (unmerge, "merged from" on the 360° page).
            models.Index(fields=["merged_into"], name="customer_merged_into_idx",
                         condition=models.Q(merged_into__isnull=False)),
            # "Incomplete profiles" on the customer list, in name order, bank-wide and by branch
            # (customers.selectors.customer_list_incomplete); partial, so complete records cost nothing.
            models.Index(fields=["name_key", "id"], name="customer_incomplete_name_idx",
                         condition=models.Q(completeness__lt=INCOMPLETE_BELOW)),
            models.Index(fields=["home_branch", "name_key", "id"], name="customer_branch_incomplete_idx",
                         condition=models.Q(completeness__lt=INCOMPLETE_BELOW)),
        ]

    def __str__(self) -> str:
        return self.display_name

    def get_absolute_url(self) -> str:
        """The 360° page: reverse("customers:customer-detail", args=[pk]) worked out once per script
        prefix (lists link every row to it; reverse() per row, 45 on My book, cost half a millisecond)."""
        return id_url("customers:customer-detail", self.pk)

    @property
    def display_name(self) -> str:
        if self.kind == self.Kind.CORPORATE:
            return self.legal_name
        return person_name(given=self.first_name, family=self.last_name)

    @property
    def rm_name(self) -> str:
        rm = self.primary_rm
        return (person_name(given=rm.first_name, family=rm.last_name) or rm.get_username()) if rm else ""

    @property
    def occupation_label(self) -> str:
        """A coded occupation (the telemarketing file's `blue-collar`) by its label; free text as it is."""
        return _label(Occupation, self.occupation)

    @property
    def interest_labels(self) -> list[str]:
        return [_label(Interest, code) for code in self.interests]

    @property
    def is_incomplete(self) -> bool:
        return self.completeness < INCOMPLETE_BELOW

    @property
    def completeness_gaps(self) -> list[tuple[str, int]]:
        """(field name, weight) of the completeness fields this record lacks."""
        return [(name, weight) for name, weight in COMPLETENESS_FIELDS if getattr(self, name) in ("", None)]

    @property
    def completeness_percent(self) -> int:
        """The score of the record as it is in memory (the stored `completeness` once saved)."""
        return completeness_from_points(COMPLETENESS_TOTAL - sum(weight for _, weight in self.completeness_gaps))

    @property
    def kyc_review_due_soon(self) -> bool:
        """Overdue, or due within the 30 days the RM's landing page looks ahead."""
        return self.kyc_review_due is not None and (self.kyc_review_due - timezone.localdate()).days <= 30

    @property
    def missing_fields(self) -> list[str]:
        return [str(self._meta.get_field(name).verbose_name) for name, _ in self.completeness_gaps]


class RMAssignment(models.Model):
    """Who was a customer's relationship manager, from when to when, and why it changed."""

    class Reason(models.TextChoices):
        ONBOARDING = "onboarding", _("First assignment")
        HANDOVER = "handover", _("Hand-over")
        REBALANCING = "rebalancing", _("Book rebalancing")
        STAFF_LEFT = "staff_left", _("RM left the branch")
        CUSTOMER_REQUEST = "customer", _("Customer's request")

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="rm_assignments", db_index=False
    )  # indexed by rm_assignment_customer_idx
    rm = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("RM"))
    started_at = models.DateTimeField(_("from"))
    ended_at = models.DateTimeField(_("to"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices)
    note = models.TextField(_("hand-over note"), blank=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("assigned by"),
    )

    class Meta:
        verbose_name = _("RM assignment")
        verbose_name_plural = _("RM assignments")
        constraints = [
            # At most one current RM per customer.
            models.UniqueConstraint(
                fields=["customer"], condition=models.Q(ended_at__isnull=True), name="rm_assignment_one_current",
            ),
        ]
        indexes = [
            # RM history panel of the 360° page, newest first.
            models.Index(fields=["customer", "-started_at"], name="rm_assignment_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} → {self.rm_id} from {self.started_at:%Y-%m-%d}"
