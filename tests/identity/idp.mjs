// A real OpenID Connect provider for the identity tests: npm `oidc-provider` (panva) on
// 127.0.0.1, in memory, with one static confidential client (the portal) and the built-in
// development login page (any account name, any password). Prints "ready <issuer>" once
// listening; stops on SIGTERM/SIGINT. Reaches no network: it only listens on loopback.
//
// Configuration (environment):
//   IDP_PORT                    port to listen on (required)
//   IDP_CLIENT_ID               the portal's client id ("codemode")
//   IDP_CLIENT_SECRET           its secret (required)
//   IDP_REDIRECT_URIS           the portal's redirect URIs, comma-separated
//   IDP_POST_LOGOUT_URIS        its post-logout redirect URIs, comma-separated
//   IDP_GROUPS                  JSON map email -> [group, ...], e.g. {"ana@example.com": ["eng"]}
//   IDP_PKCE                    "required" (default) or "optional" for the portal's client
//
// Accounts: the login name is the account id; its `email` is the name if it contains "@",
// else "<name>@example.com"; `groups` come from IDP_GROUPS. With oidc-provider's defaults the
// ID token carries only `sub`: `email` (scope `email`) and `groups` (scope `groups`) are served
// by the userinfo endpoint, as many real providers do.
import { createServer } from "node:http";
import Provider from "oidc-provider";

const env = process.env;
const port = Number(env.IDP_PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error("IDP_PORT must be a port number");
  process.exit(2);
}
if (!env.IDP_CLIENT_SECRET) {
  console.error("IDP_CLIENT_SECRET is required");
  process.exit(2);
}
const list = (value) => (value || "").split(",").map((s) => s.trim()).filter(Boolean);
const groups = JSON.parse(env.IDP_GROUPS || "{}");
const clientId = env.IDP_CLIENT_ID || "codemode";
const issuer = `http://127.0.0.1:${port}`;

function emailOf(accountId) {
  return accountId.includes("@") ? accountId : `${accountId}@example.com`;
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: env.IDP_CLIENT_SECRET,
      client_name: "codemode portal",
      redirect_uris: list(env.IDP_REDIRECT_URIS),
      post_logout_redirect_uris: list(env.IDP_POST_LOGOUT_URIS),
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name"],
    groups: ["groups"],
  },
  async findAccount(_ctx, sub) {
    const email = emailOf(sub);
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          email,
          email_verified: true,
          name: email.split("@")[0],
          groups: groups[email] || [],
        };
      },
    };
  },
  pkce: {
    // The portal is a confidential client; still, PKCE is demanded of it unless told not to.
    required: () => (env.IDP_PKCE || "required") === "required",
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    revocation: { enabled: true },
  },
  cookies: { keys: ["codemode-test-idp-cookie-key"] },
  // Nothing in the pages it renders may make the browser fetch from the internet.
  renderError(ctx, out) {
    ctx.type = "html";
    const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    ctx.body = `<!DOCTYPE html><title>idp error</title><h1>oops! something went wrong</h1>${Object.entries(
      out,
    )
      .map(([k, v]) => `<pre><strong>${esc(k)}</strong>: ${esc(v)}</pre>`)
      .join("")}`;
  },
});
provider.on("server_error", (_ctx, err) => console.error("idp server_error:", err));

const server = createServer(provider.callback());
server.listen(port, "127.0.0.1", () => {
  console.log(`ready ${issuer}`);
});
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
