"""The generated customers' contacts with the bank: ATM, counter, call centre, web, mobile, e-mail,
SMS, each with a kind and a direction, spread over the years before their last contact.

Drawn as numpy columns from their own generator (seed, segment, 0x7C), so adding them changed no
other draw of the bank. Only customers with a last contact have contacts, and each of theirs comes
before it: the last contact stays the newest thing on the timeline, as the customer row says.
"""

from __future__ import annotations

import numpy as np

from customers.generation.constants import _ACTIVITY, _DAY, _NULL, _S
from customers.generation.holdings import _CHINA_UTC, _HISTORY_YEARS
from customers.generation.inputs import _Bank

# (channel, kind, direction, share for a customer of 25, share at 70, by a member of staff,
#  summaries, outcome). Complaints and feedback are left out: they open cases with an owner and a
#  clock, which a generator has no business inventing.
_TOUCHPOINTS = (
    ("atm", "transaction", "inbound", 0.16, 0.20, False,
     ("ATM cash withdrawal", "ATM cash deposit", "ATM balance enquiry"), ""),
    ("mobile", "transaction", "inbound", 0.26, 0.06, False,
     ("Transfer in the mobile app", "Bill payment in the mobile app", "QR payment set up in the app"), ""),
    ("mobile", "enquiry", "inbound", 0.08, 0.02, False,
     ("Checked a card transaction in the app", "Asked about a fee in the in-app chat"), "Answered"),
    ("web", "transaction", "inbound", 0.12, 0.06, False,
     ("Internet banking transfer", "Standing order changed online"), ""),
    ("web", "service_request", "inbound", 0.04, 0.02, False,
     ("Contact details updated online", "E-statement requested online"), "Done"),
    ("branch", "visit", "inbound", 0.05, 0.18, True,
     ("Branch visit: cash at the counter", "Branch visit: documents signed", "Branch visit: passbook updated"), ""),
    ("branch", "sale", "inbound", 0.02, 0.05, True,
     ("Term deposit opened at the branch", "Wealth management fund bought", "Credit card application"),
     "Product taken"),
    ("branch", "enquiry", "inbound", 0.02, 0.06, True,
     ("Asked about mortgage rates", "Asked about retirement products"), "Answered"),
    ("call_centre", "enquiry", "inbound", 0.07, 0.12, False,
     ("Called about a card payment", "Called about the account balance", "Called about a transfer"), "Answered"),
    ("call_centre", "service_request", "inbound", 0.04, 0.06, False,
     ("Card blocked after loss", "Card replacement ordered", "Online banking password reset"), "Done"),
    ("call_centre", "sale", "outbound", 0.02, 0.04, True,
     ("Outbound call: deposit offer", "Outbound call: insurance review"), "Declined"),
    ("service_centre", "service_request", "inbound", 0.02, 0.05, False,
     ("Account certificate issued", "Address change processed"), "Done"),
    ("email", "enquiry", "inbound", 0.03, 0.02, False,
     ("E-mail about a statement", "E-mail about a foreign transfer"), "Answered"),
    ("sms", "service_request", "outbound", 0.05, 0.06, False,
     ("SMS: card expiry reminder", "SMS: KYC review reminder"), ""),
)
_COLUMNS = tuple(zip(*_TOUCHPOINTS, strict=True))
_CHANNEL, _KIND, _DIRECTION = (np.array(c, dtype=_S) for c in _COLUMNS[:3])
_YOUNG, _OLD = (np.array(c) / np.sum(c) for c in _COLUMNS[3:5])
_STAFFED = np.array(_COLUMNS[5])
_SUMMARY_COUNT = np.array([len(s) for s in _COLUMNS[6]])
_SUMMARY_START = np.concatenate(([0], np.cumsum(_SUMMARY_COUNT)[:-1]))
_SUMMARIES = np.array([s for group in _COLUMNS[6] for s in group], dtype=_S)
_OUTCOME = np.array(_COLUMNS[7], dtype=_S)
# Counter, call centre and service centre work office hours; the rest any time from 7 to 23 h.
_OFFICE = np.isin(_CHANNEL, ["branch", "call_centre", "service_centre"])


def _interactions_draw(
    *, bank: _Bank, start: int, stop: int, people: dict[str, np.ndarray], customers: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Interaction columns for customers start…stop-1 ("_customer" is the local index)."""
    rng = np.random.default_rng([bank.seed, start, stop, 0x7C])
    last = customers["last_contact_at"]
    contacted = last != _NULL
    expected = np.where(contacted, bank.interactions_per_customer * _ACTIVITY[people["stage"]], 0.0)
    owner = np.repeat(np.arange(len(last)), rng.poisson(expected))
    m = len(owner)
    # Younger customers use the app and the web, older ones the counter and the phone: a mixture of
    # the two shares, weighted by age (the same distribution as blending them, in O(rows) memory).
    old = np.clip((people["age"][owner] - 25) / 45, 0, 1)
    kind = np.where(rng.random(m) < old, rng.choice(len(_TOUCHPOINTS), m, p=_OLD),
                    rng.choice(len(_TOUCHPOINTS), m, p=_YOUNG))
    # Any day from the history window (or becoming a customer) to the last contact, at a time of
    # day its channel is open (bank time, UTC+8), always before the last contact itself.
    end = last[owner]
    since = customers["customer_since"][owner]
    begin_day = np.maximum(np.where(since == _NULL, end // _DAY, since), bank.as_of_day - _HISTORY_YEARS * 365)
    begin_day = np.minimum(begin_day, end // _DAY)
    day = begin_day + (rng.random(m) * (end // _DAY - begin_day + 1)).astype(np.int64)
    local = np.where(_OFFICE[kind], 9 * 3600 + rng.random(m) * 8 * 3600, 7 * 3600 + rng.random(m) * 16 * 3600)
    occurred = np.minimum(day * _DAY + local.astype(np.int64) - _CHINA_UTC, end - 60)
    rm = customers["primary_rm_id"][owner]
    staffed = _STAFFED[kind] & (rm != _NULL) & (rng.random(m) < 0.7)
    return {
        "_customer": owner,
        "channel": _CHANNEL[kind],
        "kind": _KIND[kind],
        "direction": _DIRECTION[kind],
        "staff_id": np.where(staffed, rm, _NULL),
        "branch_id": customers["home_branch_id"][owner],
        "occurred_at": occurred,
        "summary": _SUMMARIES[_SUMMARY_START[kind] + (rng.random(m) * _SUMMARY_COUNT[kind]).astype(np.int64)],
        "outcome": _OUTCOME[kind],
        "recorded_at": occurred,
    }
