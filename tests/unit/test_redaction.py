"""The redacting log filter: phones and emails are masked in a record's message, args and extras."""

from __future__ import annotations

import logging
import re

import pytest

PHONES = ["+13125550147", "3125550147", "+14155550132"]
EMAILS = ["avery.lindqvist@example.com", "marcus.oduya@example.com"]


def test_uuids_survive_redaction_but_phones_do_not():
    from chalicelib.runtime.observability import redact

    text = "webhook 6b0f2d7e-1c3a-4f59-9e84-2a7d5c1b3e60 from +13125550147 or (312) 555-0147"
    out = redact(text)
    assert "6b0f2d7e-1c3a-4f59-9e84-2a7d5c1b3e60" in out
    assert "5550147" not in out and "555-0147" not in out


def test_logged_phones_and_emails_are_masked_in_message_args_and_extra(
    capsys: pytest.CaptureFixture[str], logs_on_stdout: None
):
    """What the sync's logger prints, on stdout or stderr: the message, its %-args and every
    `extra` field (strings, nested maps, lists) are masked."""
    from chalicelib.runtime.observability import logger

    logger.warning(
        "calling +13125550147 for avery.lindqvist@example.com, then %s",
        "(415) 555-0132",
        extra={
            "phone": "+14155550132",
            "contact": {"email": "marcus.oduya@example.com", "mobile": "3125550147"},
            "tried": ["+13125550147", "avery.lindqvist@example.com"],
        },
    )
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "calling ***47 for a***@example.com, then ***32" in text  # it was logged, masked
    assert '"phone":"***32"' in text.replace(" ", "")
    assert "m***@example.com" in text
    for raw in [*PHONES, *EMAILS, "(415) 555-0132", "5550147", "555-0132", "avery.lindqvist"]:
        assert raw not in text
    assert not re.search(r"\+1\d{10}", text)


def test_the_redacting_filter_masks_a_record_message_args_and_extra_fields():
    from chalicelib.runtime.observability import RedactingFilter

    record = logging.makeLogRecord(
        {
            "msg": "reach +13125550147 or %s / %s",
            "args": ("avery.lindqvist@example.com", 7),
            "phone": "3125550147",
            "contact": {"email": "marcus.oduya@example.com", "n": 3},
            "tried": ["+14155550132"],
            "count": 12,
        }
    )
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "reach ***47 or a***@example.com / 7"
    assert record.__dict__["phone"] == "***47"
    assert record.__dict__["contact"] == {"email": "m***@example.com", "n": 3}
    assert record.__dict__["tried"] == ["***32"]
    assert record.__dict__["count"] == 12


def test_the_redacting_filter_masks_mapping_args():
    from chalicelib.runtime.observability import RedactingFilter

    args = ({"who": "avery.lindqvist@example.com"},)
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "reach %(who)s", args, None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "reach a***@example.com"


def test_the_sync_logger_has_the_redacting_filter_on_every_handler():
    from chalicelib.runtime.observability import RedactingFilter, logger

    assert logger.handlers
    for handler in logger.handlers:
        assert any(isinstance(f, RedactingFilter) for f in handler.filters)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call +13125550147 now", "call ***47 now"),
        ("mail avery.lindqvist@example.com", "mail a***@example.com"),
        ("(312) 555-0147 and 312.555.0147", "***47 and ***47"),
        # a UUID whose last group holds an 11-digit run stays whole
        (
            "webhook 6b0f2d7e-1c3a-4f59-9e84-a31255501470 ok",
            "webhook 6b0f2d7e-1c3a-4f59-9e84-a31255501470 ok",
        ),
        (
            "ids 6b0f2d7e-1c3a-4f59-9e84-a31255501470 and 7c1f2d7e-1c3a-4f59-9e84-a31255501471",
            "ids 6b0f2d7e-1c3a-4f59-9e84-a31255501470 and 7c1f2d7e-1c3a-4f59-9e84-a31255501471",
        ),
        ("epoch 1768234831482 and date 2026-01-12", "epoch 1768234831482 and date 2026-01-12"),
    ],
)
def test_redact_exact_output(text: str, expected: str):
    from chalicelib.runtime.observability import redact

    assert redact(text) == expected


@pytest.mark.parametrize(
    ("run", "masked"),
    [
        ("+1234567", False),  # + and 7 digits: too short for a phone
        ("+12345678", True),  # + and 8
        ("+123456789012345", True),  # + and 15
        ("+1234567890123456", False),  # + and 16: not E.164
        ("123456789", False),  # 9 digits, no +: an id
        ("1234567890", True),  # 10
        ("123456789012", True),  # 12
        ("1234567890123", False),  # 13: an epoch in ms
    ],
)
def test_phone_length_boundaries(run: str, masked: bool):
    from chalicelib.runtime.observability import redact

    assert redact(f"x {run} y") == (f"x ***{run[-2:]} y" if masked else f"x {run} y")


def test_the_redacting_filter_leaves_a_records_standard_fields_alone():
    """Only what the caller logged is masked: the logger name and source path are not PII."""
    from chalicelib.runtime.observability import RedactingFilter

    record = logging.LogRecord(
        "jobs.2026030112", logging.INFO, "/srv/build-2026030112/app.py", 7, "ok", None, None
    )
    RedactingFilter().filter(record)
    assert record.name == "jobs.2026030112"
    assert record.pathname == "/srv/build-2026030112/app.py"


def _record_with(error: BaseException) -> logging.LogRecord:
    exc_info = (type(error), error, error.__traceback__)
    return logging.LogRecord("t", logging.ERROR, __file__, 1, "write failed", None, exc_info)


def test_the_redacting_filter_masks_an_exception_and_drops_the_raw_one():
    """An exception's text may quote what it failed on: the filter formats it masked, names its
    type, and leaves no raw exc_info for a formatter to print again."""
    from chalicelib.runtime.observability import RedactingFilter

    try:
        raise ValueError("refused +13125550147 for avery.lindqvist@example.com")
    except ValueError as raised:
        record = _record_with(raised)
    assert RedactingFilter().filter(record)
    text = record.__dict__["exception"]
    assert "ValueError: refused ***47 for a***@example.com" in text
    assert "Traceback (most recent call last)" in text
    assert record.__dict__["exception_name"] == "ValueError"
    assert not record.exc_info
    assert "+13125550147" not in logging.Formatter().format(record)


def test_an_exception_logged_without_being_raised_is_masked_too():
    """`logger.error(..., exc_info=error)` with an error never raised: it has no traceback, and
    its text is masked all the same."""
    from chalicelib.runtime.observability import RedactingFilter

    record = _record_with(RuntimeError("CallTools said 3125550147 is taken"))
    assert record.exc_info is not None and record.exc_info[2] is None
    RedactingFilter().filter(record)
    assert record.__dict__["exception"] == "RuntimeError: CallTools said ***47 is taken"
    assert record.__dict__["exception_name"] == "RuntimeError"
    assert not record.exc_info


def test_a_record_without_an_exception_gets_no_exception_field():
    from chalicelib.runtime.observability import RedactingFilter

    record = logging.LogRecord("t", logging.INFO, __file__, 1, "ok", None, (None, None, None))
    RedactingFilter().filter(record)
    assert "exception" not in record.__dict__ and "exception_name" not in record.__dict__
