"""Django's database sessions, read on every request with SQL written once and prepared on the
connection (crm_bank.prepared) instead of compiled by the ORM and planned by PostgreSQL each time
(SESSION_ENGINE). Everything else — saving, rotating the key at sign-in, expiry, clearing — is
Django's own."""

from __future__ import annotations

from django.contrib.sessions.backends import db
from django.utils import timezone

from crm_bank.bulk import quoted_table
from crm_bank.prepared import prepared_cursor


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        """The unexpired session row of this key, or None (and the key forgotten, as Django does)."""
        model = self.model
        with prepared_cursor() as cursor:
            cursor.execute(
                f"SELECT session_data, expire_date FROM {quoted_table(model)}"
                " WHERE session_key = %s AND expire_date > %s",
                [self.session_key, timezone.now()],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return model(session_key=self.session_key, session_data=row[0], expire_date=row[1])
