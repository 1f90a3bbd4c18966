"""Phone numbers: E.164 normalisation with `phonenumbers`, and masking for logs."""

from __future__ import annotations


def to_e164(raw: str | None, default_region: str = "US") -> str | None:
    """The number in E.164 if it is a valid, dialable-looking number; None otherwise."""
    if not raw or not raw.strip():
        return None
    # Imported here, not at the top: its metadata tables would add ~25 ms to `import app` (the
    # log redactor imports this module for mask_phone), and only a contact's sync parses numbers.
    import phonenumbers

    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def mask_phone(value: str) -> str:
    """Keep the last two digits only, so a log line can be correlated but not dialled."""
    digits = [c for c in value if c.isdigit()]
    return "***" + "".join(digits[-2:]) if digits else "***"
