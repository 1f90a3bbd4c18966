"""Inbound: GHL webhook bodies and their authentication, turned into domain messages."""
