// A real OpenID Provider for oidcauth's browser tests: node-oidc-provider
// (the engine inside Logto) configured the way Logto configures it, on
// loopback only.
//
//   node provider.js --app-url http://127.0.0.1:3000 [--port 0]
//
// Settings come from flags or the environment (flags win):
//
//   --port            OP_PORT            port on 127.0.0.1 (0: any free port)
//   --app-url         OP_APP_URL         the app's base URL; its redirect URI is
//                                        APP/callback, its post sign-out URI APP/
//   --client-id       OP_CLIENT_ID       default "oidcauth-e2e"
//   --client-secret   OP_CLIENT_SECRET   default: random (printed nowhere)
//   --m2m-client-id   OP_M2M_CLIENT_ID   a machine-to-machine client (client
//                                        credentials grant only), default "oidcauth-e2e-m2m"
//   --m2m-client-secret OP_M2M_CLIENT_SECRET  default: random (printed nowhere)
//   --access-token-ttl OP_ACCESS_TOKEN_TTL  seconds (default 3600), for the
//                                        opaque token and the API's JWT
//   --short-api-token-ttl OP_SHORT_API_TOKEN_TTL  seconds (default 35), for the
//                                        JWT of the second, short-lived API
//   --backchannel-logout-uri OP_BACKCHANNEL_LOGOUT_URI  optional
//   --ready-file      OP_READY_FILE      where to write the issuer once serving
//
// The issuer is http://127.0.0.1:PORT/oidc. Beside it, /debug/authorizations
// /debug/end-sessions and /debug/tokens answer the non-secret parameters of
// the authorization, end-session and token requests received (newest last),
// so tests can see what reached the provider; a refresh token shows there
// only as a fingerprint (the start of its SHA-256), enough to tell whether
// one was used twice. /debug/backchannel-logouts answers the back-channel
// logouts sent (client, sub, sid, delivered or the error);
// /debug/revocations the token revocation requests (RFC 7009: the hint,
// the token's fingerprint, the answer's status);
// /debug/refresh-token?fingerprint=F whether the refresh token issued with
// that fingerprint would still be redeemed ({"known":…,"active":…}).
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

export const API_RESOURCE = 'https://api.example.com';
// A second API whose tokens live a short while (Logto sets the token
// lifetime per API resource), so tests can see a token reused and then
// refreshed without waiting long.
export const SHORT_API_RESOURCE = 'https://short-lived.api.example.com';
// The example app's own API (/api/resource, the first resource) reads
// read:data and needs write:data for POST.
const API_SCOPES = 'read:profile write:profile read:data write:data';
const HOST = '127.0.0.1';

const { values: flags } = parseArgs({
  options: {
    port: { type: 'string' },
    'app-url': { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'm2m-client-id': { type: 'string' },
    'm2m-client-secret': { type: 'string' },
    'access-token-ttl': { type: 'string' },
    'short-api-token-ttl': { type: 'string' },
    'backchannel-logout-uri': { type: 'string' },
    'ready-file': { type: 'string' },
  },
});
const setting = (flag, env, fallback) => flags[flag] ?? process.env[env] ?? fallback;

const port = Number(setting('port', 'OP_PORT', '0'));
const appURL = (setting('app-url', 'OP_APP_URL', '') || '').replace(/\/+$/, '');
const clientID = setting('client-id', 'OP_CLIENT_ID', 'oidcauth-e2e');
const clientSecret = setting('client-secret', 'OP_CLIENT_SECRET', '') || randomBytes(24).toString('hex');
const m2mClientID = setting('m2m-client-id', 'OP_M2M_CLIENT_ID', 'oidcauth-e2e-m2m');
const m2mClientSecret = setting('m2m-client-secret', 'OP_M2M_CLIENT_SECRET', '') || randomBytes(24).toString('hex');
const accessTokenTTL = Number(setting('access-token-ttl', 'OP_ACCESS_TOKEN_TTL', '3600'));
const shortAPITokenTTL = Number(setting('short-api-token-ttl', 'OP_SHORT_API_TOKEN_TTL', '35'));
const backchannelLogoutURI = setting('backchannel-logout-uri', 'OP_BACKCHANNEL_LOGOUT_URI', '');
const readyFile = setting('ready-file', 'OP_READY_FILE', '');

if (!appURL || !/^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?$/.test(appURL)) {
  console.error('provider: --app-url (or OP_APP_URL) must be an http URL on this machine, e.g. http://127.0.0.1:3000');
  process.exit(2);
}
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error('provider: --port must be a port number');
  process.exit(2);
}
for (const [flag, ttl] of [['access-token-ttl', accessTokenTTL], ['short-api-token-ttl', shortAPITokenTTL]]) {
  if (!Number.isInteger(ttl) || ttl < 1) {
    console.error(`provider: --${flag} must be a positive number of seconds`);
    process.exit(2);
  }
}
const apiTokenTTLs = new Map([[API_RESOURCE, accessTokenTTL], [SHORT_API_RESOURCE, shortAPITokenTTL]]);

// Accounts: the development login screen takes any login and password; a
// few logins have a full profile, any other login is its own name.
const people = {
  ada: { name: 'Ada Lovelace', email: 'ada@example.com', email_verified: true },
  grace: { name: 'Grace Hopper', email: 'grace@example.com', email_verified: false },
};

function findAccount(_ctx, id) {
  const person = people[id] ?? { name: id };
  return {
    accountId: id,
    async claims() {
      return { sub: id, username: id, ...person };
    },
  };
}

// Logto's pages are its own; node-oidc-provider's stock pages load a web
// font from outside, which a machine without internet (and a browser
// told to resolve nothing) would wait on. Strip it from every HTML page.
function stripExternalFonts(html) {
  return html.replace(/@import url\(https?:[^)]*\);?/g, '');
}

const received = { authorizations: [], 'end-sessions': [], tokens: [], 'backchannel-logouts': [], revocations: [] };
// The refresh tokens issued, by fingerprint, so /debug/refresh-token can
// tell whether one is still active; they never leave this process.
const issuedRefreshTokens = new Map();
const recordedParams = [
  'client_id', 'response_type', 'scope', 'prompt', 'redirect_uri', 'code_challenge_method',
  'first_screen', 'interaction_mode', 'login_hint', 'resource', 'ui_locales', 'max_age', 'acr_values',
  'post_logout_redirect_uri', 'grant_type', 'token_type_hint',
];

// record keeps the non-secret parameters of a request to the provider,
// and whether the secret-bearing ones were there.
function record(kind, params, extra = {}) {
  const seen = { ...extra };
  for (const name of recordedParams) {
    if (params[name] !== undefined) seen[name] = params[name];
  }
  for (const name of ['state', 'nonce', 'code_challenge', 'id_token_hint', 'code', 'code_verifier', 'refresh_token']) {
    seen[`has_${name}`] = Boolean(params[name]);
  }
  remember(kind, seen);
}

function remember(kind, seen) {
  const list = received[kind];
  list.push(seen);
  if (list.length > 100) list.shift();
}

// fingerprint names a refresh token without keeping it.
function fingerprint(token) {
  return typeof token === 'string' && token ? createHash('sha256').update(token).digest('hex').slice(0, 16) : undefined;
}

function jwks() {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'jwk' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  return { keys: [{ ...ec, kid: 'e2e-es384', alg: 'ES384', use: 'sig' }, { ...rsa, kid: 'e2e-rs256', alg: 'RS256', use: 'sig' }] };
}

function configuration() {
  const client = {
    client_id: clientID,
    client_secret: clientSecret,
    application_type: 'web',
    redirect_uris: [`${appURL}/callback`],
    post_logout_redirect_uris: [`${appURL}/`],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    // Logto signs ID tokens with an EC P-384 key by default.
    id_token_signed_response_alg: 'ES384',
  };
  if (backchannelLogoutURI) {
    client.backchannel_logout_uri = backchannelLogoutURI;
    client.backchannel_logout_session_required = true;
  }
  // A machine-to-machine application, as in Logto: the client credentials
  // grant only, for an API resource named by the resource parameter.
  const m2m = {
    client_id: m2mClientID,
    client_secret: m2mClientSecret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  };
  return {
    clients: [client, m2m],
    jwks: jwks(),
    findAccount,
    cookies: { keys: [randomBytes(32).toString('hex')] },
    // Logto's scopes and claims. conformIdTokenClaims is left at
    // node-oidc-provider's default: the ID token issued beside an access
    // token carries only sub and the protocol claims, and the profile and
    // e-mail claims come from userinfo, which the app fetches at sign-in
    // (oidcauth's Config.UserInfo, automatic by default), so the suite
    // shows that path working.
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    claims: {
      openid: ['sub'],
      profile: ['name', 'username', 'picture'],
      email: ['email', 'email_verified'],
    },
    // Logto's sign-in experience parameters pass through to the
    // interaction, where /debug/authorizations and the pages can see them.
    extraParams: ['first_screen', 'interaction_mode', 'direct_sign_in', 'organization_id'],
    pkce: { required: () => true },
    enabledJWA: { idTokenSigningAlgValues: ['ES384', 'RS256'] },
    ttl: {
      // An API's token lives as long as its resource server says.
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? accessTokenTTL,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Session: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
      RefreshToken: 14 * 24 * 3600,
    },
    // Refresh tokens for offline_access (granted only with prompt=consent),
    // a new one at every use as Logto does.
    issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    rotateRefreshToken: () => true,
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      backchannelLogout: { enabled: true },
      revocation: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // As Logto (with no default API): the code exchange gives an opaque
        // token for userinfo; an API's JWT comes from a refresh_token grant
        // naming the resource, which the sign-in must have asked for.
        defaultResource: () => undefined,
        useGrantedResource: () => false,
        getResourceServerInfo: (_ctx, resource) => {
          if (!apiTokenTTLs.has(resource)) {
            throw new errors.InvalidTarget();
          }
          return {
            scope: API_SCOPES,
            audience: resource,
            accessTokenTTL: apiTokenTTLs.get(resource),
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES384' } },
          };
        },
      },
    },
    // Back-channel logout goes to the app on this machine; the default
    // guard refuses loopback addresses, so only loopback is let through.
    fetch: (url, options) => {
      const { hostname } = new URL(url);
      if (hostname !== HOST && hostname !== 'localhost') {
        return Promise.reject(new Error('provider: outbound calls go to this machine only'));
      }
      const { dispatcher: _guard, ...rest } = options;
      return fetch(url, rest);
    },
  };
}

const server = http.createServer();
server.listen(port, HOST, () => {
  const issuer = `http://${HOST}:${server.address().port}/oidc`;
  const provider = new Provider(issuer, configuration());

  provider.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === '/auth') record('authorizations', ctx.query);
    if (ctx.method === 'GET' && ctx.path === '/session/end') record('end-sessions', ctx.query);
    await next();
    if (ctx.method === 'POST' && ctx.path === '/token' && ctx.oidc?.params) {
      record('tokens', ctx.oidc.params, {
        status: ctx.status,
        refresh_token_fingerprint: fingerprint(ctx.oidc.params.refresh_token),
        issued_refresh_token_fingerprint: fingerprint(ctx.body?.refresh_token),
      });
      if (ctx.body?.refresh_token) {
        issuedRefreshTokens.set(fingerprint(ctx.body.refresh_token), ctx.body.refresh_token);
        if (issuedRefreshTokens.size > 100) issuedRefreshTokens.delete(issuedRefreshTokens.keys().next().value);
      }
    }
    if (ctx.method === 'POST' && ctx.path === '/token/revocation') {
      const params = ctx.oidc?.params ?? {};
      record('revocations', params, { status: ctx.status, token_fingerprint: fingerprint(params.token) });
    }
    if (typeof ctx.body === 'string' && ctx.response.is('html')) {
      ctx.body = stripExternalFonts(ctx.body);
    }
  });

  // The end-session confirmation waits for these before it answers.
  provider.on('backchannel.success', (_ctx, client, sub, sid) => {
    remember('backchannel-logouts', { client_id: client.clientId, sub, sid, delivered: true });
  });
  provider.on('backchannel.error', (_ctx, err, client, sub, sid) => {
    console.error(`provider: back-channel logout to ${client.clientId} failed: ${err.message}`);
    remember('backchannel-logouts', { client_id: client.clientId, sub, sid, delivered: false, error: err.message });
  });

  const op = provider.callback();
  server.on('request', (req, res) => {
    const path = req.url.split('?')[0];
    if (path === '/oidc' || path.startsWith('/oidc/')) {
      req.originalUrl = req.url;
      req.url = req.url.slice('/oidc'.length) || '/';
      op(req, res);
      return;
    }
    if (req.method === 'GET' && path === '/debug/refresh-token') {
      const raw = issuedRefreshTokens.get(new URL(req.url, 'http://x').searchParams.get('fingerprint'));
      const answer = (body) => {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify(body));
      };
      if (!raw) {
        answer({ known: false, active: false });
        return;
      }
      provider.RefreshToken.find(raw).then(
        (token) => answer({ known: true, active: Boolean(token && !token.isExpired && !token.consumed) }),
        () => answer({ known: true, active: false }),
      );
      return;
    }
    const kind = path.startsWith('/debug/') && path.slice('/debug/'.length);
    if (req.method === 'GET' && Object.hasOwn(received, kind)) {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(received[kind]));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });

  if (readyFile) writeFileSync(readyFile, `${issuer}\n`);
  console.log(`provider: serving ${issuer} for client ${clientID} (access tokens ${accessTokenTTL}s, ${SHORT_API_RESOURCE} ${shortAPITokenTTL}s)`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
