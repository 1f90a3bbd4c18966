"""The pages around the dashboard: login, confirmation, error."""

from __future__ import annotations

from chalicelib.services.admin_page.html import document, esc, hidden

TITLE = "GHL → CallTools sync"


def login_page(base: str, error: str | None = None) -> str:
    """The only page shown without a session: it holds no data."""
    problem = f'<p id="login-error" role="alert">{esc(error)}</p>' if error else ""
    return document(
        f"Sign in · {TITLE}",
        f"<header><h1>{esc(TITLE)}</h1></header><section><h2>Sign in</h2>{problem}"
        f'<form id="login" method="post" action="{esc(base)}/admin/login">'
        '<p><label for="token">Admin token</label><br>'
        '<input id="token" name="token" type="password" autocomplete="current-password" '
        'required maxlength="512"></p>'
        '<p><button id="login-submit" type="submit">Sign in</button></p></form></section>',
    )


def error_page(base: str, message: str) -> str:
    return document(
        f"Error · {TITLE}",
        f'<header><h1>{esc(TITLE)}</h1></header><section><p id="error" role="alert">'
        f'{esc(message)}</p><p><a href="{esc(base)}/admin">Back to the status page</a></p>'
        "</section>",
    )


def confirm_page(base: str, action: str, question: str, csrf: str, fields: dict[str, str]) -> str:
    """The second step of a state-changing button: works with no script and on any phone."""
    extra = "".join(hidden(k, v) for k, v in fields.items())
    return document(
        f"Confirm · {TITLE}",
        f"<header><h1>{esc(TITLE)}</h1></header><section><h2>{esc(question)}</h2>"
        f'<form id="confirm" method="post" action="{esc(base)}{esc(action)}">'
        f"{hidden('csrf', csrf)}{hidden('confirm', 'yes')}{extra}"
        '<button id="confirm-submit" type="submit">Yes, go ahead</button> '
        f'<a href="{esc(base)}/admin">Cancel</a></form></section>',
    )
