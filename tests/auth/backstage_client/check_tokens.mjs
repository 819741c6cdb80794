// Verifies a user token issued by backstage-py's auth plugin as Backstage's backends do:
// with @backstage/plugin-auth-node's DefaultIdentityClient (JWKS from the auth plugin,
// issuer, audience, ES256), and the limited token cut from its `uip` claim with jose.
// Prints one JSON object; the Python test reads it.
import { DefaultIdentityClient } from '@backstage/plugin-auth-node';
import * as jose from 'jose';

const [authBaseUrl, token] = process.argv.slice(2);
const discovery = {
  getBaseUrl: async () => authBaseUrl,
  getExternalBaseUrl: async () => authBaseUrl,
};

async function attempt(fn) {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error: String(error?.message ?? error) };
  }
}

const client = DefaultIdentityClient.create({ discovery, issuer: authBaseUrl });
const full = await attempt(async () => (await client.authenticate(token)).identity);

const header = jose.decodeProtectedHeader(token);
const claims = jose.decodeJwt(token);
const b64 = value => Buffer.from(JSON.stringify(value)).toString('base64url');
const limitedHeader = { typ: 'vnd.backstage.limited-user', alg: header.alg, kid: header.kid };
const limitedToken = `${b64(limitedHeader)}.${b64({ sub: claims.sub, iat: claims.iat, exp: claims.exp })}.${claims.uip}`;
const jwks = jose.createRemoteJWKSet(new URL(`${authBaseUrl}/.well-known/jwks.json`));
const limited = await attempt(async () => {
  const { payload, protectedHeader } = await jose.jwtVerify(limitedToken, jwks, {
    algorithms: ['ES256'],
  });
  return { sub: payload.sub, typ: protectedHeader.typ };
});

const [h, p, s] = token.split('.');
const forgedClient = DefaultIdentityClient.create({ discovery, issuer: authBaseUrl });
const forged = await attempt(async () =>
  forgedClient.authenticate(`${h}.${p}.${s.split('').reverse().join('')}`),
);

console.log(JSON.stringify({ full, limited, forged: forged.ok }));
