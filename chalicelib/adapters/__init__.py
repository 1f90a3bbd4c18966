"""Adapters: the ports implemented over GHL, CallTools, AWS and HTTP."""
