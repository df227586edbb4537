'use strict';
// Person sign-in from Node: the device code flow with a JS prompt callback (run on the event loop
// while a library thread waits) that approves the code through the mock's control route, silent
// refresh for another scope, an explicit signIn(), the statuses of a declined code and of a
// missing callback, the open-URL callback's answer, and node-oracledb's accessToken function
// that never waits for a person.

const assert = require('node:assert/strict');
const { after, before, test } = require('node:test');

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { Mock, TENANT_ID, SCOPE, PUBLIC_CLIENT_ID, USER } = require('./mock');
const aadtoken = require('..');

let mock;
before(async () => {
  mock = await Mock.start();
  await mock.control('POST', '/_mock/devicecode', { interval: 1, expires_in: 60 });
});
after(async () => { await mock.stop(); });

function settings(overrides = {}) {
  return {
    tenant_id: TENANT_ID, client_id: PUBLIC_CLIENT_ID, authority_host: mock.baseUrl,
    ca_file: mock.caFile, scope: SCOPE, auth_method: 'device_code', login_hint: USER, ...overrides,
  };
}

test('device code: the prompt, then silent for another scope, then signIn asks again', async () => {
  const shown = [];
  const deviceCodeCallback = (prompt) => {
    shown.push(prompt);
    return mock.control('POST', '/_mock/devicecode/approve', { user_code: prompt.userCode, user: USER });
  };
  const client = new aadtoken.Client(settings(), { deviceCodeCallback });
  try {
    const token = await client.getToken();
    assert.equal(token.claims().upn, USER);
    assert.equal(shown.length, 1);
    assert.ok(shown[0].message.includes(shown[0].userCode), shown[0].message);
    assert.match(shown[0].verificationUri, /^https:\/\//);
    assert.ok(shown[0].expiresOn > new Date());
    const other = await client.getToken(await mock.newScope('node-signin-other'));
    assert.equal(other.claims().upn, USER);
    assert.equal(shown.length, 1, 'silent through the refresh token');
    const again = await client.signIn();
    assert.equal(again.claims().upn, USER);
    assert.equal(shown.length, 2, 'signIn always asks the person');
    await client.signOut();
    const afterSignOut = await client.getToken();
    assert.equal(afterSignOut.claims().upn, USER);
    assert.equal(shown.length, 3, 'after signOut the next getToken asks the person again');
    await client.signOut();
    await client.signOut(); // nobody signed in: still fine
  } finally {
    client.close();
  }
});

test('a declined code is 511, no prompt callback 510, a throwing prompt is contained', async () => {
  const hint = { login_hint: 'scott@contoso.onmicrosoft.com' };
  const declining = new aadtoken.Client(settings(hint), {
    deviceCodeCallback: ({ userCode }) => mock.control('POST', '/_mock/devicecode/deny', { user_code: userCode }),
  });
  await assert.rejects(declining.signIn(), { status: 511, oauthCode: 'authorization_declined' });
  declining.close();
  const silent = new aadtoken.Client(settings(hint));
  await assert.rejects(silent.signIn(), { status: aadtoken.status.ERR_CALLBACK_REQUIRED });
  silent.close();
  // A prompt that throws: the library is not disturbed, and the code expires unseen.
  await mock.control('POST', '/_mock/devicecode', { interval: 1, expires_in: 2 });
  try {
    const throwing = new aadtoken.Client(settings(hint), {
      deviceCodeCallback: () => { throw new Error('no screen'); },
    });
    await assert.rejects(throwing.signIn(), { status: aadtoken.status.ERR_SIGN_IN_EXPIRED });
    throwing.close();
  } finally {
    await mock.control('POST', '/_mock/devicecode', { interval: 1, expires_in: 60 });
  }
  assert.throws(() => new aadtoken.Client(settings(), { deviceCodeCallback: 'show it' }),
    { name: 'TypeError', message: /deviceCodeCallback/ });
});

test('interactive: the open-URL callback gets the sign-in page; false ends the sign-in', async () => {
  const urls = [];
  const client = new aadtoken.Client(settings({ auth_method: 'interactive', interactive_timeout_s: 30 }), {
    openUrl: (url) => { urls.push(url); return false; },
  });
  await assert.rejects(client.signIn(), { status: aadtoken.status.ERR_CALLBACK });
  client.close();
  assert.equal(urls.length, 1);
  const page = new URL(urls[0]);
  assert.equal(page.origin, mock.baseUrl);
  assert.equal(page.searchParams.get('client_id'), PUBLIC_CLIENT_ID);
  assert.equal(page.searchParams.get('code_challenge_method'), 'S256');
  assert.match(page.searchParams.get('redirect_uri'), /^http:\/\/localhost:\d+/);
});

test("oracledbAccessToken never shows a device code: it waits for the host's signIn()", async () => {
  // node-oracledb calls accessToken(refresh) while it opens a connection; the prompt here would
  // approve at once and automatic_sign_in is on, yet nothing may prompt on the driver's behalf.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aadtoken-node-silent-'));
  const shown = [];
  const client = new aadtoken.Client(mock.personSettings(path.join(dir, 'accounts.json')), {
    deviceCodeCallback: await mock.approveDeviceCodes(shown),
  });
  try {
    const adapter = client.oracledbAccessToken();
    const codes = await mock.deviceCodesIssued();
    const calls = {
      'accessToken(false)': () => adapter(false, {}), 'accessToken(true)': () => adapter(true, {}),
      getTokenSilent: () => client.getTokenSilent(), refreshTokenSilent: () => client.refreshTokenSilent(),
    };
    for (const [name, call] of Object.entries(calls)) {
      const started = Date.now();
      await assert.rejects(call(), (e) => {
        assert.ok(e instanceof aadtoken.AadTokenError, `${name}: ${e}`);
        assert.equal(e.status, aadtoken.status.ERR_INTERACTION_REQUIRED, `${name}: ${e}`);
        assert.match(e.message, /aadtoken_client_sign_in/);
        return true;
      });
      assert.ok(Date.now() - started < 10000, `${name}: at once (a device code lives 60 s)`);
    }
    assert.equal(shown.length, 0, 'no device code shown');
    assert.equal(await mock.deviceCodesIssued(), codes, 'none asked for');

    // The host signs in; then the driver's function is silent.
    const signedIn = (await client.signIn()).token;
    assert.equal(await adapter(false), signedIn, 'refresh=false: the cached token');
    const fresh = await adapter(true);
    assert.notEqual(fresh, signedIn, 'refresh=true asks Entra ID again');
    assert.equal(await adapter(false), fresh, 'and it replaced the cached token');
    const other = await client.getTokenSilent(await mock.newScope('node-silent-other'));
    assert.equal(other.claims().upn, USER);
    assert.equal(shown.length, 1, 'only signIn showed a device code');
  } finally {
    client.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
