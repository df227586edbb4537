// A real, certified OpenID provider (panva's oidc-provider) for aadtoken's person sign-in tests
// (tests/oidc_provider.rs starts it). One HTTPS server on 127.0.0.1 serves two providers:
//
// * the Entra layout: issuer https://127.0.0.1:<port>/<tenant>/v2.0, endpoints
//   /<tenant>/oauth2/v2.0/{authorize,token,devicecode} — what aadtoken builds for an Entra
//   authority https://127.0.0.1:<port>/<tenant>;
// * a plain issuer: https://127.0.0.1:<port>/oidc, endpoints from its discovery document
//   (authority_kind=oidc).
//
// Both: one public native client (no secret, PKCE, loopback redirect http://localhost), device
// flow and authorization code, rotating refresh tokens, id tokens with sub (and
// preferred_username, name) only: no client_info, no oid, no tid.
//
// The people: the "login app" of these providers signs in the account the test names and
// grants what the client asked for (a real deployment shows forms there). The test talks to
// this process through stdin/stdout, one JSON object a line:
//   -> {"port": N}                                      once listening
//   <- {"id": 1, "device": "<verification_uri_complete>", "user": "alice"}
//   <- {"id": 2, "browse": "<authorize URL>", "user": "alice"}
//   -> {"id": …, "ok": true, "status": 200, "page": "<final page text>"} or {"id": …, "error": "…"}
// As a browser it keeps cookies, follows redirects, submits the device confirmation form, and
// follows the final redirect to aadtoken's loopback listener (plain http).
// Environment: OIDC_CERT, OIDC_KEY (PEM files), OIDC_TENANT, OIDC_CLIENT_ID, OIDC_CA (the CA
// of OIDC_CERT, for this process's own browsing).

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import readline from 'node:readline';

import Provider from 'oidc-provider';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const TENANT = env('OIDC_TENANT');
const CLIENT_ID = env('OIDC_CLIENT_ID');
const CA = fs.readFileSync(env('OIDC_CA'));

const server = https.createServer({ cert: fs.readFileSync(env('OIDC_CERT')), key: fs.readFileSync(env('OIDC_KEY')) });
await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
const { port } = server.address();
const base = `https://127.0.0.1:${port}`;

// Who the login app signs in next (set by each command).
let nextUser = 'alice';

function provider(issuer, mount, routes) {
  const p = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: ['code'],
      redirect_uris: ['http://localhost'],
    }],
    features: {
      deviceFlow: { enabled: true },
      devInteractions: { enabled: false },
    },
    scopes: ['openid', 'offline_access', 'profile', 'db.read'],
    claims: { openid: ['sub'], profile: ['preferred_username', 'name'] },
    async findAccount(_ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return { sub, preferred_username: `${sub}@example.test`, name: `Test ${sub}` };
        },
      };
    },
    interactions: { url: (_ctx, interaction) => `${mount}/interaction/${interaction.uid}` },
    routes,
    rotateRefreshToken: true,
    cookies: { keys: ['aadtoken-oidc-provider-test-only'] },
    // No "expires with the session" for offline_access refresh tokens.
    ttl: { AccessToken: 3600, RefreshToken: 86400, DeviceCode: 600, Interaction: 600, Session: 86400, Grant: 86400, AuthorizationCode: 600, IdToken: 3600 },
  });
  // The login app: sign in nextUser, grant what was asked.
  const login = async (req, res) => {
    const details = await p.interactionDetails(req, res);
    const accountId = details.session?.accountId ?? nextUser;
    const grant = new p.Grant({ accountId, clientId: details.params.client_id });
    const missingScope = details.prompt.details.missingOIDCScope;
    if (missingScope) grant.addOIDCScope(missingScope.join(' '));
    const missingClaims = details.prompt.details.missingOIDCClaims;
    if (missingClaims) grant.addOIDCClaims(missingClaims);
    const grantId = await grant.save();
    await p.interactionFinished(req, res, { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
  };
  return { p, mount, login };
}

const providers = [
  provider(`${base}/${TENANT}/v2.0`, `/${TENANT}`, {
    authorization: '/oauth2/v2.0/authorize',
    token: '/oauth2/v2.0/token',
    device_authorization: '/oauth2/v2.0/devicecode',
    code_verification: '/devicelogin',
  }),
  provider(`${base}/oidc`, '/oidc', {}),
];

server.on('request', async (req, res) => {
  try {
    const found = providers.find(({ mount }) => req.url === mount || req.url.startsWith(`${mount}/`));
    if (!found) {
      res.writeHead(404).end('not found');
      return;
    }
    // Mounted as express would: originalUrl the full path, url the provider's own.
    req.originalUrl = req.url;
    req.url = req.url.slice(found.mount.length) || '/';
    if (req.url.startsWith('/interaction/')) {
      await found.login(req, res);
      return;
    }
    found.p.callback()(req, res);
  } catch (e) {
    res.writeHead(500).end(String(e));
  }
});

// ------------------------------------------------------------------------------------------
// The test's browser: cookies, redirects, forms.

const jar = new Map();

function request(url, method = 'GET', form = null) {
  const u = new URL(url);
  const body = form ? new URLSearchParams(form).toString() : null;
  const headers = { 'user-agent': 'aadtoken-oidc-test-browser' };
  const cookies = [...jar].filter(([k]) => k.startsWith(`${u.host}|`)).map(([k, v]) => `${k.split('|')[1]}=${v}`);
  if (cookies.length) headers.cookie = cookies.join('; ');
  if (body) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    headers['content-length'] = Buffer.byteLength(body);
  }
  const lib = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const r = lib.request(u, { method, headers, ca: CA }, (res) => {
      for (const c of res.headers['set-cookie'] ?? []) {
        const [pair] = c.split(';');
        const i = pair.indexOf('=');
        jar.set(`${u.host}|${pair.slice(0, i)}`, pair.slice(i + 1));
      }
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, location: res.headers.location, text }));
    });
    r.on('error', reject);
    if (body) r.write(body);
    r.end();
  });
}

// The hidden fields of the page's form and where it posts.
function form(html, pageUrl) {
  const action = /<form[^>]*action="([^"]*)"/i.exec(html);
  if (!action) return null;
  const fields = {};
  for (const m of html.matchAll(/<input[^>]*type="hidden"[^>]*>/gi)) {
    const name = /name="([^"]*)"/.exec(m[0]);
    const value = /value="([^"]*)"/.exec(m[0]);
    if (name) fields[name[1]] = value ? value[1] : '';
  }
  return { url: new URL(action[1], pageUrl).toString(), fields };
}

async function browse(start, submitForms) {
  let url = start;
  let answer = await request(url);
  for (let hops = 0; hops < 20; hops += 1) {
    if (answer.location) {
      url = new URL(answer.location, url).toString();
      answer = await request(url);
    } else if (submitForms && answer.status === 200 && /<form/i.test(answer.text) && !/Sign-in Success/.test(answer.text)) {
      const f = form(answer.text, url);
      if (!f) break;
      url = f.url;
      answer = await request(url, 'POST', f.fields);
    } else {
      break;
    }
  }
  return { ok: true, status: answer.status, page: answer.text.replace(/<style[\s\S]*?<\/style>/gi, " ").replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim() };
}

console.log(JSON.stringify({ port }));

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  const cmd = JSON.parse(line);
  nextUser = cmd.user ?? 'alice';
  let out;
  try {
    // A new person each time: no session cookies from the last one.
    jar.clear();
    out = cmd.device ? await browse(cmd.device, true) : await browse(cmd.browse, false);
  } catch (e) {
    out = { error: String(e?.stack ?? e) };
  }
  console.log(JSON.stringify({ id: cmd.id, ...out }));
});
rl.on('close', () => process.exit(0));
