"""The `codemode.portal` namespace: choosing, for the signed-in client, which of the
portal's servers it uses. The names the sandbox is given for it and its TypeScript
declaration (fixed text).

Inside code, `await codemode.portal.list()` gives the servers the person may use here, each
with whether it is on for this client; `enable(id)` and `disable(id)` turn one on or off for
this client (kept per client grant: other clients of the same person are not affected);
`logout(id)` disconnects the person's own account from a server that acts with it;
`select()` gives the URL of the server selection page.
"""

from __future__ import annotations

from typing import Final

PORTAL_SPACE: Final = "portal"
"""`codemode.portal`: reserved, so no tool is ever named like it."""

LIST: Final = "portal.list"
ENABLE: Final = "portal.enable"
DISABLE: Final = "portal.disable"
SELECT: Final = "portal.select"
LOGOUT: Final = "portal.logout"
PORTAL_METHODS: Final = (LIST, ENABLE, DISABLE, SELECT, LOGOUT)
"""The names of the namespace's methods as the sandbox bridge sees them."""

PORTAL_DECLARATION: Final = """\
/** One server of this portal that you may use. */
interface CodemodeServer {
  /** Pass it to codemode.portal.enable / disable. */
  id: string;
  name: string;
  /** Whether its tools are available to this client. */
  enabled: boolean;
  /** Ready, Connecting, Error, ... */
  state: string;
  /** Why it is not Ready, when it is not. */
  detail?: string;
  /** Servers that act with your own account: "connected", "not connected" or "expired". */
  connection?: string;
}
declare const codemode: {
  portal: {
    /** The servers you may use in this portal, and whether each is on for this client. */
    list(): Promise<CodemodeServer[]>;
    /** Turn a server on for this client: its tools come back (from the next run on). */
    enable(id: string): Promise<CodemodeServer>;
    /** Turn a server off for this client: its tools leave (from the next run on). */
    disable(id: string): Promise<CodemodeServer>;
    /** The URL of the server selection page, for the person to open (to connect servers). */
    select(): Promise<{ url: string }>;
    /** Disconnect your own account from a server that acts with it (revoked upstream). */
    logout(id: string): Promise<CodemodeServer>;
  };
};
"""

__all__ = [
    "DISABLE",
    "ENABLE",
    "LIST",
    "LOGOUT",
    "PORTAL_DECLARATION",
    "PORTAL_METHODS",
    "PORTAL_SPACE",
    "SELECT",
]
