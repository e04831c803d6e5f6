"""Where customer data comes from: the registry of source systems, the rows each sent (kept as they
came), and the import batches that brought them in."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm_bank.org.models import Branch, Department
from crm_bank.runs.models import Run
from customers.models.customer import Customer


class FieldGroup(models.TextChoices):
    """Fields that travel together when sources disagree: survivorship and trust work per group."""

    IDENTITY = "identity", _("Identity (names, national ID, birth date, gender)")
    CONTACT = "contact", _("Contact (phone, e-mail)")
    ADDRESS = "address", _("Address")
    CONSENT = "consent", _("Consent and contact preferences")
    RELATIONSHIP = "relationship", _("Branch and RM")


# Customer field → its field group: the fields sources send, whose trust and freshness are kept per group.
FIELD_GROUPS: dict[str, str] = {
    "kind": FieldGroup.IDENTITY, "first_name": FieldGroup.IDENTITY, "last_name": FieldGroup.IDENTITY,
    "legal_name": FieldGroup.IDENTITY, "national_id_type": FieldGroup.IDENTITY, "national_id": FieldGroup.IDENTITY,
    "birth_date": FieldGroup.IDENTITY, "gender": FieldGroup.IDENTITY,
    "phone": FieldGroup.CONTACT, "email": FieldGroup.CONTACT,
    "address_line": FieldGroup.ADDRESS, "city": FieldGroup.ADDRESS, "postal_code": FieldGroup.ADDRESS,
    "country": FieldGroup.ADDRESS,
    "marketing_consent": FieldGroup.CONSENT, "marketing_consent_at": FieldGroup.CONSENT,
    "marketing_consent_source": FieldGroup.CONSENT, "do_not_contact": FieldGroup.CONSENT,
    "preferred_channel": FieldGroup.CONSENT, "preferred_contact_time": FieldGroup.CONSENT,
    "preferred_language": FieldGroup.CONSENT,
    "home_branch": FieldGroup.RELATIONSHIP, "primary_rm": FieldGroup.RELATIONSHIP,
}


class SourceSystem(models.Model):
    """A system that sends customer records (a department's core system, the card centre, the call
    centre, the web): data, not code, managed in admin. Its trust per field group decides whose
    value survives when two sources disagree (higher wins)."""

    DEFAULT_TRUST = 50

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=120)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                   verbose_name=_("department"))
    # Rows that name no branch go here.
    default_branch = models.ForeignKey(Branch, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                       verbose_name=_("default branch"))
    trust_identity = models.PositiveSmallIntegerField(_("trust: identity"), default=DEFAULT_TRUST)
    trust_contact = models.PositiveSmallIntegerField(_("trust: contact"), default=DEFAULT_TRUST)
    trust_address = models.PositiveSmallIntegerField(_("trust: address"), default=DEFAULT_TRUST)
    trust_consent = models.PositiveSmallIntegerField(_("trust: consent"), default=DEFAULT_TRUST)
    trust_relationship = models.PositiveSmallIntegerField(_("trust: branch and RM"), default=DEFAULT_TRUST)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("source system")
        verbose_name_plural = _("source systems")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(trust_identity__lte=100) & models.Q(trust_contact__lte=100)
                & models.Q(trust_address__lte=100) & models.Q(trust_consent__lte=100)
                & models.Q(trust_relationship__lte=100),
                name="source_system_trust_at_most_100",
                violation_error_message=_("Trust is a rank from 0 to 100."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def trust(self, group: str) -> int:
        return getattr(self, f"trust_{group}")


class ImportBatch(models.Model):
    """One file a source sent, from upload through the dry-run preview to the commit. Its counts
    per outcome add up to its line count: every row ends in exactly one outcome."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Uploaded")
        PREVIEWED = "previewed", _("Checked (dry run)")
        COMMITTING = "committing", _("Importing")
        COMMITTED = "committed", _("Imported")
        REFUSED = "refused", _("File refused")
        FAILED = "failed", _("Failed")

    source = models.ForeignKey(SourceSystem, on_delete=models.PROTECT, related_name="batches",
                               verbose_name=_("source system"))
    file_name = models.CharField(_("file name"), max_length=255)
    # Where the uploaded file is kept until the batch is committed (MEDIA storage), relative.
    stored_file = models.CharField(max_length=500, blank=True, editable=False)
    file_size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    file_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    delimiter = models.CharField(_("delimiter"), max_length=4, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.UPLOADED)
    # Why the file as a whole was refused (encoding, missing column, empty…), in the uploader's words.
    refusal = models.TextField(_("why the file was refused"), blank=True)
    line_count = models.PositiveIntegerField(_("data lines"), default=0)
    preview_counts = models.JSONField(_("dry-run counts"), default=dict, blank=True)
    counts = models.JSONField(_("counts per outcome"), default=dict, blank=True)
    # How long the commit took per phase: {"checked": s, "applied": s} (read, validate and stage; resolve and write).
    seconds = models.JSONField(_("seconds per phase"), default=dict, blank=True)
    run = models.ForeignKey(Run, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                            verbose_name=_("run"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("uploaded by"))
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    committed_at = models.DateTimeField(_("imported"), null=True, blank=True)

    class Meta:
        ordering = ["-uploaded_at"]
        verbose_name = _("import batch")
        verbose_name_plural = _("import batches")
        indexes = [
            # A source's batches, newest first (import page, "same file again?").
            models.Index(fields=["source", "-uploaded_at"], name="import_batch_source_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.source_id} {self.file_name}"


class ImportRow(models.Model):
    """One data line of an import batch exactly as received, with its outcome: the raw record is
    never thrown away, rejected lines included (with their reasons per column)."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Not yet processed")
        CREATED = "created", _("Created a customer")
        UPDATED = "updated", _("Updated the customer")
        UNCHANGED = "unchanged", _("Already up to date")
        MERGED = "merged", _("Merged into an existing customer")
        REVIEW = "review", _("Sent to review")
        REJECTED = "rejected", _("Rejected")

    id = models.BigAutoField(primary_key=True)
    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="rows", db_index=False)
    line = models.PositiveIntegerField(_("line"))  # in the file, header = 1
    source_key = models.CharField(_("source key"), max_length=64, blank=True)
    payload = models.JSONField(_("row as received"))
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    # [{"column": …, "reason": …}] for a rejected line.
    errors = models.JSONField(_("errors"), default=list, blank=True)
    customer = models.ForeignKey(Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                 verbose_name=_("customer"), db_index=False)
    # Fields the row changed on the customer (updated / merged), for the batch report.
    changed_fields = models.JSONField(_("fields changed"), default=list, blank=True)

    class Meta:
        verbose_name = _("import row")
        verbose_name_plural = _("import rows")
        constraints = [
            models.UniqueConstraint(fields=["batch", "line"], name="import_row_batch_line_unique"),
        ]
        indexes = [
            # A batch's rows by outcome (preview counts, error file, review queue feed).
            models.Index(fields=["batch", "outcome", "line"], name="import_row_outcome_idx"),
            # Where a customer's data came from (360° sources panel), newest first.
            models.Index(fields=["customer", "-id"], name="import_row_customer_idx",
                         condition=models.Q(customer__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}:{self.line} {self.outcome}"


class SourceRecord(models.Model):
    """A source system's current record of a customer: the latest row it sent under its own key,
    linked to the golden customer it resolved to. A later row with the same key updates it."""

    class System(models.TextChoices):
        """The sources the product loads itself (seeded into SourceSystem); imports add others."""

        PKDD_CORE = "pkdd_core", _("Core banking (PKDD'99 client file)")
        UCI_TELEMARKETING = "uci_tm", _("Telemarketing (UCI Bank Marketing)")
        SYNTHETIC = "synthetic", _("Synthetic demo bank")
        BRANCH_ENTRY = "branch", _("Entered at a branch")

    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="source_records", verbose_name=_("customer"),
        db_index=False,
    )
    # The source's code is the column's value, so bulk loaders write it as text.
    system = models.ForeignKey(
        SourceSystem, on_delete=models.PROTECT, to_field="code", db_column="system", related_name="records",
        verbose_name=_("source system"), db_index=False,
    )  # indexed by source_record_unique
    external_id = models.CharField(_("ID in the source system"), max_length=64)
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("department")
    )
    payload = models.JSONField(_("payload as received"), default=dict)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    # The batch whose row last set this record (none for the demo loaders).
    batch = models.ForeignKey(ImportBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                              verbose_name=_("import batch"))
    updated_at = models.DateTimeField(_("updated"), null=True, blank=True)

    class Meta:
        verbose_name = _("source record")
        verbose_name_plural = _("source records")
        constraints = [
            # Loading the same source row twice changes nothing.
            models.UniqueConstraint(fields=["system", "external_id"], name="source_record_unique"),
        ]
        indexes = [
            # 360° page "sources" line and merge review: a customer's source rows.
            models.Index(fields=["customer"], name="source_record_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.system_id} #{self.external_id}"


class FieldProvenance(models.Model):
    """Which source last set a field group of a customer, and when: survivorship compares the
    incoming source's trust with this one's, and the 360° page shows each group's freshness."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False)
    group = models.CharField(_("field group"), max_length=12, choices=FieldGroup.choices)
    source = models.ForeignKey(SourceSystem, on_delete=models.PROTECT, to_field="code", db_column="source",
                               related_name="+", verbose_name=_("source system"))
    set_at = models.DateTimeField(_("set at"))

    class Meta:
        verbose_name = _("field provenance")
        verbose_name_plural = _("field provenance")
        constraints = [
            # One current provenance per customer and group; also the 360° page's look-up.
            models.UniqueConstraint(fields=["customer", "group"], name="field_provenance_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.group} ← {self.source_id} {self.set_at:%Y-%m-%d}"
