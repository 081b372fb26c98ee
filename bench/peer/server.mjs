// The peer of the CUS benchmark (docs/benchmarks.md): oidc-provider, configured as close
// to CUS as it allows, on a loopback port. Started and stopped by cus-bench, never by hand.
//
//   node server.mjs PORT CLIENT_ID CLIENT_SECRET CHAINS
//
// Once listening it prints ONE JSON line on stdout with what the load needs and cannot get
// without the interactive login (which oidc-provider leaves to the host application):
// CHAINS refresh tokens (one rotating chain per worker), an access token for userinfo and
// one to introspect, all minted through the provider's own models (Grant, AccessToken,
// RefreshToken) as its authorization-code grant would mint them.
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';

// The default in-memory adapter, on an unbounded store: its own is an LRU of 1000 entries,
// which under load drops live grants and tokens (every later request then fails). Like
// the LRU, entries expire at their TTL.
class Store {
  #map = new Map();

  get(key) {
    const entry = this.#map.get(key);
    if (entry && entry.expiry !== undefined && entry.expiry <= Date.now()) {
      this.#map.delete(key);
      return undefined;
    }
    return entry?.value;
  }

  set(key, value, { maxAge } = {}) {
    const finite = typeof maxAge === 'number' && Number.isFinite(maxAge);
    this.#map.set(key, { value, expiry: finite ? Date.now() + maxAge : undefined });
    return this;
  }

  has(key) {
    return this.get(key) !== undefined;
  }

  delete(key) {
    return this.#map.delete(key);
  }
}
const STORE = new Store();

class UnboundedMemoryAdapter extends MemoryAdapter {
  constructor(model) {
    super(model, STORE);
  }
}

const [port, clientId, clientSecret, chainsArg] = process.argv.slice(2);
const chains = Number(chainsArg ?? '1');
if (!port || !clientId || !clientSecret || !(chains > 0)) {
  process.stderr.write('usage: node server.mjs PORT CLIENT_ID CLIENT_SECRET CHAINS\n');
  process.exit(2);
}

const issuer = `http://127.0.0.1:${port}`;
// The resource server whose access tokens are JWTs (CUS's access tokens are all JWTs).
const RESOURCE = 'urn:cus-bench:api';
const REDIRECT = 'http://127.0.0.1:9/cb';
const ACCOUNT = '111111111';

// ES256 with one P-256 key, like CUS's default keys.access_token_alg and the bench client.
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-es256', alg: 'ES256', use: 'sig' };

const claims = {
  sub: ACCOUNT,
  name: 'Ana María Pérez Soto',
  given_name: 'Ana María',
  family_name: 'Pérez Soto',
  email: 'ana.perez@example.cl',
  email_verified: true,
};

const provider = new Provider(issuer, {
  adapter: UnboundedMemoryAdapter,
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    redirect_uris: [REDIRECT],
    id_token_signed_response_alg: 'ES256',
    scope: 'openid profile email offline_access api',
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name'],
    email: ['email', 'email_verified'],
  },
  scopes: ['openid', 'offline_access', 'profile', 'email', 'api'],
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ ...claims, sub }) }),
  // CUS rotates every refresh token (a reused one revokes the family).
  rotateRefreshToken: true,
  // CUS's lifetimes (config/default.toml [oidc]).
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    ClientCredentials: 600,
    IdToken: 600,
    RefreshToken: 2592000,
    Grant: 2592000,
    Session: 43200,
    Interaction: 600,
  },
  features: {
    // Production-like: no built-in development login pages.
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    // JWT access tokens, signed ES256, for the one resource server: oidc-provider issues
    // JWT access tokens only to a resource server (never for its own userinfo).
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async () => ({
        scope: 'api',
        audience: RESOURCE,
        accessTokenTTL: 600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
});
// Quiet: errors go to stderr only (a benchmark must not be slowed by its own logging).
provider.on('server_error', (_ctx, err) => process.stderr.write(`server_error: ${err}\n`));

const client = await provider.Client.find(clientId);

// What the authorization-code grant would have stored for one signed-in person.
async function grant(resourceScope) {
  const g = new provider.Grant({ accountId: ACCOUNT, clientId });
  g.addOIDCScope('openid profile email offline_access');
  if (resourceScope) g.addResourceScope(RESOURCE, resourceScope);
  return g.save();
}

async function refreshToken() {
  const grantId = await grant('api');
  const rt = new provider.RefreshToken({
    accountId: ACCOUNT,
    authTime: Math.floor(Date.now() / 1000),
    client,
    expiresWithSession: false,
    grantId,
    gty: 'authorization_code',
    resource: RESOURCE,
    rotations: 0,
    scope: 'openid profile email offline_access api',
  });
  return rt.save();
}

// Opaque: the only kind oidc-provider's userinfo and introspection accept.
async function opaqueAccessToken() {
  const grantId = await grant(null);
  const at = new provider.AccessToken({
    accountId: ACCOUNT,
    client,
    grantId,
    gty: 'authorization_code',
    scope: 'openid profile email',
    claims: { userinfo: {} },
  });
  return at.save();
}

const refreshTokens = [];
for (let i = 0; i < chains; i += 1) refreshTokens.push(await refreshToken());
const accessToken = await opaqueAccessToken();

const server = provider.listen(Number(port), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({
    issuer,
    refresh_tokens: refreshTokens,
    userinfo_access_token: accessToken,
    introspect_token: accessToken,
  })}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
