"""Where segmentation reads campaign contact history from, without importing the app that keeps it.

Campaign contacts belong to `campaigns`, which sits above segmentation in the layers: segmentation
may neither import it nor look its models up by name. Instead the app that records contacts
registers a `ContactHistorySource` from its AppConfig.ready() (campaigns/contact_history.py), and
segmentation asks this module. With no source registered there is no contact history: the
segment frame's `responded_before` is null for everyone, and model training refuses to start.

A source offers one SQL relation, one row per contact made (or planned), in this vocabulary:

    customer_id          bigint
    contact_id           bigint   orders the contacts of one day (the order they were recorded)
    contacted_on         date     null when the date is unknown
    channel              text     a code of customers.models.Channel
    product_category     text     the offered product's Product.Category ('' when none)
    attempts             integer  contacts with the customer in this campaign (this one included)
    previous_contacts    integer  contacts before this campaign
    days_since_previous  integer  days from the previous campaign's contact; null when none
    previous_outcome     text     'success', 'failure', 'other' or '' (none, or not recorded)
    responded            boolean  true: accepted; false: declined or no answer; null: no outcome yet

The relation takes no parameters; the functions below filter it by date.
"""

from __future__ import annotations

from typing import Protocol

from django.utils.translation import gettext as _

from crm_bank.registries import SingleSource

CONTACT_COLUMNS = (
    "customer_id", "contact_id", "contacted_on", "channel", "product_category", "attempts", "previous_contacts",
    "days_since_previous", "previous_outcome", "responded",
)


class ContactHistorySource(Protocol):
    name: str

    def contacts_sql(self) -> str:
        """A SELECT with CONTACT_COLUMNS (see the module docstring), without parameters."""


class ContactHistoryMissing(Exception):
    """No app has registered a contact history: nothing to learn responses from."""


_history: SingleSource[ContactHistorySource] = SingleSource("A contact history")


def contact_history_register(source: ContactHistorySource) -> None:
    """Called once from the recording app's AppConfig.ready()."""
    _history.register(source)


def contact_history_unregister() -> ContactHistorySource | None:
    """For tests that run without a contact history; returns the source to register again."""
    return _history.unregister()


def contacts_sql() -> str:
    """The registered source's relation, or ContactHistoryMissing with a message for the reader."""
    if _history.source is None:
        raise ContactHistoryMissing(
            _("No contact history is installed (the campaigns app registers it): there are no campaign "
              "outcomes to learn responses from.")
        )
    return _history.source.contacts_sql()


def responded_before_sql() -> str | None:
    """Per customer, `responded_before` as of the named parameter %(as_of)s, or None without a source.

    A SELECT of (customer_id, responded_before): 1.0 for a customer who accepted an offer (or whose
    previous campaign was a success) by the as-of date, 0.0 for one contacted without success, and
    no row for one never contacted. Contacts without a date count as before any date.
    """
    if _history.source is None:
        return None
    return f"""SELECT customer_id,
               max(CASE WHEN responded OR previous_outcome = 'success' THEN 1 ELSE 0 END)::float8 AS responded_before
        FROM ({_history.source.contacts_sql()}) contacts
        WHERE (responded IS NOT NULL OR previous_outcome <> '')
          AND (contacted_on IS NULL OR contacted_on <= %(as_of)s)
        GROUP BY customer_id"""
