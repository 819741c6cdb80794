// A loopback OpenID Provider for the sign-in tests: panva's certified `oidc-provider`.
//
// Reads its settings as JSON from the OIDC_IDP_CONFIG environment variable:
//   {"clients": [<oidc-provider client metadata>...], "jwks": {"keys": [<private JWK>...]},
//    "accounts": {"<login>": {<claims>...}}, "cookieKeys": ["..."]}
// listens on a free port of 127.0.0.1 and prints one JSON line, {"issuer": "http://..."},
// once it answers. Its development interactions (login and consent forms) are on: any
// password signs a known login in; an unknown login is refused.
import http from 'node:http';

import Provider from 'oidc-provider';

const settings = JSON.parse(process.env.OIDC_IDP_CONFIG ?? '{}');
const accounts = settings.accounts ?? {};

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: settings.clients,
  jwks: settings.jwks,
  cookies: { keys: settings.cookieKeys },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'picture'],
  },
  // PKCE for every client, so a flow without it fails at the IdP.
  pkce: { methods: ['S256'], required: () => true },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
  },
  // Refresh tokens for every client allowed the grant, without asking for offline_access.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  // Tokens stay valid when the IdP session ends: the refresh test outlives the login.
  expiresWithSession: async () => false,
  async findAccount(_ctx, id) {
    const claims = accounts[id];
    if (!claims) {
      return undefined;
    }
    return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
  },
  renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});
// Loopback http issuer: no TLS termination in front, so no proxy headers to trust.
provider.proxy = false;

provider.on('server_error', (_ctx, error) => {
  console.error('oidc-provider server_error', error);
});

server.on('request', provider.callback());
process.on('SIGTERM', () => server.close(() => process.exit(0)));

console.log(JSON.stringify({ issuer }));
