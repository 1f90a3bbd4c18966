"""`python -m sandbox`: run the whole service locally (see sandbox/stack.py)."""

from sandbox.stack import main

main()
