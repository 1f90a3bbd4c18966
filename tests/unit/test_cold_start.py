"""`import app` is a Lambda's cold start: the libraries only a handler's work needs are imported on
that path (wiring's builders, a function's body), never by app.py's import. The time itself is
measured by `python -m bench footprint`; this checks the cause, which does not vary with load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Each was once imported by `import app`, or is a client library a builder imports.
LAZY = (
    "boto3",
    "botocore.session",  # boto3's clients; powertools imports only botocore's (empty) package
    "cryptography",  # webhook signatures
    "httpx",
    "tenacity",
    "phonenumbers",  # a contact's sync; the log redactor needs only mask_phone
    "pydantic_settings",  # replaced by Settings' own __init__ (its CLI source pulled in asyncio)
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.batch",
    "chalicelib.adapters",
)
# Prints which of the names given (a module or package, with everything under it) are loaded.
_LOADED = """
import json, sys, app
def loaded(name):
    return any(m == name or m.startswith(name + ".") for m in sys.modules)
print(json.dumps([name for name in sys.argv[1:] if loaded(name)]))
"""


def loaded_after_import_app(names: tuple[str, ...]) -> set[str]:
    """Which of `names` a fresh interpreter holds after `import app` (with the settings' defaults:
    nothing from the developer's shell)."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    out = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", _LOADED, *names],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_import_app_leaves_the_handlers_libraries_unloaded():
    assert loaded_after_import_app(LAZY) == set()


def test_the_check_sees_what_app_does_import():
    # The same probe finds the modules app.py needs at import, so an empty answer above means absent.
    needed = ("chalice.app", "pydantic", "chalicelib.runtime.wiring")
    assert loaded_after_import_app((*needed, "chalicelib.runtime.nothing")) == set(needed)
