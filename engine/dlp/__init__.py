"""Data-loss prevention on everything that leaves for an upstream (issue 16).

Profiles (`credentials_and_secrets`, `financial_information`, custom regexes and keywords)
are applied by `ToolCalls` (`engine.calls`) to the arguments of every upstream tool call,
direct or from agent code, before it leaves the host, and optionally to results. The modules:
`secrets` and `financial` (the predefined profiles), `custom` (the admin's patterns, with a
time budget), `scan` (the bounded walk over a value), `policy` (which profiles apply to a
portal and server, and the verdict).
"""

from engine.dlp.policy import DlpPolicy, Rules, Verdict
from engine.dlp.scan import MAX_DEPTH, MAX_SCAN_CHARS, Finding

__all__ = ["MAX_DEPTH", "MAX_SCAN_CHARS", "DlpPolicy", "Finding", "Rules", "Verdict"]
