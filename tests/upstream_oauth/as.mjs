// The authorization server of the OAuth-protected test upstream: npm `oidc-provider` (panva)
// on 127.0.0.1, in memory, with dynamic client registration, resource indicators (RFC 8707:
// JWT access tokens whose `aud` is the MCP server), refresh tokens, revocation (RFC 7009) and
// PKCE. Approves without a person, so clients can run headless: the account is the request's
// `login_hint`, else AS_ACCOUNT ("alice"); `login_hint=deny` makes it refuse (access_denied).
// Prints "ready <issuer>" once listening; stops on SIGTERM/SIGINT.
//
// Environment: AS_PORT (required), AS_RESOURCE (the MCP server URL, required),
// AS_TOKEN_TTL_S (access-token lifetime, default 60), AS_ACCOUNT (default "alice");
// AS_CLIENT_ID, AS_CLIENT_SECRET, AS_REDIRECT_URIS (comma-separated): a pre-registered
// confidential client (client_secret_basic), for clients without dynamic registration.
import { createServer } from "node:http";
import Provider, { errors } from "oidc-provider";

const env = process.env;
const port = Number(env.AS_PORT);
const resource = env.AS_RESOURCE;
if (!Number.isInteger(port) || port <= 0 || !resource) {
  console.error("AS_PORT and AS_RESOURCE are required");
  process.exit(2);
}
const ttl = Number(env.AS_TOKEN_TTL_S || 60);
const issuer = `http://127.0.0.1:${port}`;
const SCOPE = "mcp:tools";
const clients = env.AS_CLIENT_ID
  ? [
      {
        client_id: env.AS_CLIENT_ID,
        client_secret: env.AS_CLIENT_SECRET,
        redirect_uris: (env.AS_REDIRECT_URIS || "").split(","),
        grant_types: ["authorization_code", "refresh_token"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ]
  : [];

const provider = new Provider(issuer, {
  clients,
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  scopes: ["openid", "offline_access", SCOPE],
  clientDefaults: { grant_types: ["authorization_code", "refresh_token"] },
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, indicator) => {
        if (indicator !== resource) throw new errors.InvalidTarget();
        return { scope: SCOPE, audience: resource, accessTokenTTL: ttl, accessTokenFormat: "jwt" };
      },
    },
  },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
  ttl: { AccessToken: ttl, RefreshToken: 3600, Grant: 3600, Session: 3600, Interaction: 600 },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ["codemode-test-as-cookie-key"] },
  renderError(ctx, out) {
    ctx.type = "json";
    ctx.body = out;
  },
});
provider.on("server_error", (_ctx, err) => console.error("as server_error:", err));

// Approves every interaction at once: login as the hinted account, grant what was asked.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const hint = details.params.login_hint || env.AS_ACCOUNT || "alice";
  if (hint === "deny") {
    const result = { error: "access_denied", error_description: "the person said no" };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }
  if (details.prompt.name === "login") {
    return provider.interactionFinished(req, res, { login: { accountId: hint } });
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  const missing = details.prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(" "));
  }
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

const callback = provider.callback();
const server = createServer((req, res) => {
  if (req.url.startsWith("/interaction/")) {
    interaction(req, res).catch((err) => {
      console.error("as interaction error:", err);
      res.statusCode = 500;
      res.end("interaction failed");
    });
    return;
  }
  callback(req, res);
});
server.listen(port, "127.0.0.1", () => console.log(`ready ${issuer}`));
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
