"""The bank's starting service policy per value tier (editable in admin afterwards): tier A is
served by its RM and may be called monthly, tier B by the call centre's priority queue every two
months, tier C by digital channels only, at most quarterly. Plain data: the seeding migration and
campaigns.services.service_policies_ensure both read it."""

# (tier, channels, least days between two contacts, service level, note)
DEFAULT_SERVICE_POLICIES = (
    ("A", ["branch", "call_centre", "email", "mobile"], 30, "dedicated_rm", "RM call at most monthly"),
    ("B", ["call_centre", "email", "sms", "mobile", "web"], 60, "priority", "Call centre priority queue"),
    ("C", ["email", "sms", "mobile", "web"], 90, "digital", "Digital only, at most quarterly"),
)
