"""How sensitive values read when the viewer may not see them in full."""

from __future__ import annotations

MASK = "*"


def mask_middle(value: str, *, keep_start: int = 3, keep_end: int = 4) -> str:
    """`330102199001011234` → `330***********1234`; short values keep less so some is hidden."""
    if not value:
        return ""
    if len(value) <= keep_start + keep_end:
        keep_start, keep_end = min(1, len(value) - 1), min(2, max(len(value) - 2, 0))
    hidden = len(value) - keep_start - keep_end
    return value[:keep_start] + MASK * hidden + (value[-keep_end:] if keep_end else "")


def mask_national_id(value: str) -> str:
    """`330102199001011234` → `330***********1234` (the UI guide's form) for long IDs; a short one
    (a Czech birth number is birth date + 4 digits) keeps only its last two characters."""
    if len(value) >= 15:
        return mask_middle(value)
    return mask_middle(value, keep_start=0, keep_end=2)


def mask_email(value: str) -> str:
    """`jan.novak@example.cz` → `j*******@example.cz`."""
    if "@" not in value:
        return mask_middle(value)
    local, domain = value.split("@", 1)
    return f"{local[:1]}{MASK * max(len(local) - 1, 1)}@{domain}"


def mask_address(value: str) -> str:
    """Keeps nothing of the street line but its length class."""
    return MASK * 8 if value else ""
