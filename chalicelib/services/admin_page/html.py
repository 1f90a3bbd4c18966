"""The page's frame: escaping, the one stylesheet, and the headers every page carries.

No script runs on the page: the Content-Security-Policy names no script source, and the only
style allowed is the inline block below, by its hash. Everything shown is escaped by `esc`.
"""

from __future__ import annotations

import base64
import hashlib
import html
from typing import Any

STYLE = """
body{font:15px/1.4 system-ui,sans-serif;margin:0;padding:0 12px 24px;color:#1d2330;background:#f6f7f9}
header{display:flex;justify-content:space-between;align-items:center;gap:8px;flex-wrap:wrap}
h1{font-size:20px;margin:14px 0}h2{font-size:16px;margin:18px 0 8px}
section{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:10px 14px;margin:10px 0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:0}dt{color:#5b6475}
dd{margin:0;min-width:0;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:4px 6px;border-bottom:1px solid #eef0f4}
td.count{text-align:right;font-variant-numeric:tabular-nums}
ul{padding-left:18px;margin:4px 0}li{margin:3px 0;word-break:break-word}
.reason,.muted{color:#5b6475}.contact-id{font-family:ui-monospace,monospace}
form.inline{display:inline}input[type=text],input[type=password],input[type=search]{padding:7px;font:inherit;
width:min(100%,22em);box-sizing:border-box}button{padding:7px 12px;font:inherit;border-radius:6px;
border:1px solid #4057a8;background:#4a64c4;color:#fff;cursor:pointer}
button.quiet{background:#fff;color:#4057a8}
#notice{background:#e9f6ec;border-color:#a6d8b2}#error,#login-error{color:#a12622}
.grid{display:grid;gap:10px;grid-template-columns:repeat(auto-fit,minmax(300px,1fr))}
@media (max-width:600px){body{font-size:16px}td,th{padding:6px 4px}}
"""

_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()

CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


def esc(value: Any) -> str:
    """Text from anywhere, safe in an element or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def document(title: str, body: str, *, refresh_seconds: int | None = None) -> str:
    refresh = (
        f'<meta http-equiv="refresh" content="{int(refresh_seconds)}">' if refresh_seconds else ""
    )
    return (
        "<!doctype html>"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="referrer" content="no-referrer">{refresh}'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{esc(name)}" value="{esc(value)}">'
