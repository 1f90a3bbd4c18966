"""`ops.cli dlq list` prints reasons as text: rich markup is shown, a control character is not sent."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

import ops.cli


class Letters:
    def peek_dead(self, limit: int = 50) -> list[dict[str, str]]:
        return [
            {
                "message_id": "m-1",
                "contact_id": "c1",
                "reason": "CallTools said [red]no[/red]\x1b]0;owned\x07",
                "sent_at": "1",
            }
        ]


def test_a_reason_with_markup_and_control_characters_is_printed_as_text(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(ops.cli, "_queue", lambda: Letters())
    monkeypatch.setattr(ops.cli.console, "width", 200)
    result: Any = CliRunner().invoke(ops.cli.app, ["dlq", "list"])
    assert result.exit_code == 0, result.output
    assert "[red]no[/red]" in result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
