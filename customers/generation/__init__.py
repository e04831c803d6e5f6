"""A synthetic but realistic bank for demos and load tests, written with PostgreSQL COPY.

`bank_generate` makes customers `S{seed:03d}{n:08d}` with holdings, transactions, RMs and
households. Every draw comes from numpy Generators seeded by (seed, segment) and from Faker pools
seeded by `seed`, so the same arguments on an empty database give the same bank, and a re-run finds
the seed's customers already there and writes nothing. Rows are built as numpy columns and streamed
with COPY in segments of `chunk_size` customers, one transaction each: memory stays flat at a
million customers and fifty million transactions, and a killed run resumes where it stopped.
"""

from __future__ import annotations

from customers.generation.bank import LIMITS, bank_arguments_check, bank_generate
from customers.generation.writer import ContactsWriter, GeneratedContacts

__all__ = ["LIMITS", "ContactsWriter", "GeneratedContacts", "bank_arguments_check", "bank_generate"]
