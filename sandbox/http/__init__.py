"""The HTTP machinery the GHL and CallTools sandboxes share: server.py (SandboxServer: lifecycle,
routing, call log, latency), transport.py (the loopback HTTP/1.1 server under it), messages.py
(requests, responses, errors), faults.py (fault injection) and control.py (the `/_sandbox/...`
endpoints every sandbox has)."""
