'use strict';
// The node-oracledb adapter (Client#oracledbAccessToken): its refresh=false / refresh=true
// behaviour against the mock, and the real node-oracledb (npm `oracledb`, thin mode) using it in
// getConnection() and createPool({ homogeneous: true }).
//
// node-oracledb (lib/oracledb.js, _verifyOptions) calls accessToken(false, accessTokenConfig)
// while it validates the connect parameters, before any network I/O, and again with true if the
// token it got has expired (its JWT `exp`); a thin pool (lib/thin/pool.js, _getConnAttrs) calls
// accessToken(true, accessTokenConfig) when the token it holds has expired. There is no database
// here, so the driver connects to a closed local port: it must fail with the connection error
// (NJS-503) — not NJS-168 (the access token function failed) nor NJS-087 (token expired).

const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');

const oracledb = require('oracledb');
const { Mock, sleep } = require('./mock');
const aadtoken = require('..');

let mock;
before(async () => { mock = await Mock.start(); });
after(async () => { await mock.stop(); });

function closedPort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** The adapter of `client`, recording each call's arguments. */
function recorded(client, scopes) {
  const inner = client.oracledbAccessToken(scopes);
  const calls = [];
  const fn = async (refresh, config) => {
    calls.push({ refresh, config });
    return inner(refresh, config);
  };
  return { fn, calls };
}

function assertConnectionError(e) {
  assert.equal(e.code, 'NJS-503', `expected the connection error, got: ${e.stack || e}`);
}

describe('the adapter', () => {
  test('refresh=false is served from the cache, refresh=true asks again', async () => {
    const scope = await mock.newScope('node-adapter');
    const client = new aadtoken.Client(mock.settings({ scope }));
    const adapter = client.oracledbAccessToken();
    const before = await mock.tokenRequests();
    const first = await adapter(false, {});
    assert.equal(typeof first, 'string');
    assert.match(first, /^eyJ/);
    assert.equal(await adapter(false), first, 'refresh=false is served from the cache');
    assert.equal(await mock.tokenRequests() - before, 1);
    const fresh = await adapter(true, {});
    assert.notEqual(fresh, first, 'refresh=true gives a new token');
    assert.equal(await mock.tokenRequests() - before, 2);
    assert.equal(await adapter(false), fresh, 'and it replaced the cached one');
    client.close();
  });

  test('explicit scopes', async () => {
    const scope = await mock.newScope('node-adapter-scopes');
    const client = new aadtoken.Client(mock.settings());
    await client.oracledbAccessToken(scope)(false);
    const log = await mock.control('GET', '/_mock/requests');
    assert.deepEqual(log.at(-1).form.filter((f) => f[0] === 'scope').map((f) => f[1]), [scope]);
    client.close();
  });

  test('errors propagate as AadTokenError', async () => {
    const client = new aadtoken.Client(mock.settings({ client_secret: 'wrong' }));
    const adapter = client.oracledbAccessToken();
    for (const refresh of [false, true]) {
      await assert.rejects(adapter(refresh), (e) => e instanceof aadtoken.AadTokenError && e.aadsts === 7000215);
    }
    client.close();
  });
});

describe('node-oracledb (thin mode)', () => {
  test('is in thin mode', () => {
    assert.equal(oracledb.thin, true);
  });

  test('getConnection: accessToken(false) before any network I/O, then the connection error', async () => {
    // A listener that counts connections and hangs up: the token is asked for before the first.
    let connections = 0;
    const srv = net.createServer((socket) => { connections++; socket.destroy(); });
    await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const scope = await mock.newScope('node-getconn');
    const client = new aadtoken.Client(mock.settings({ scope }));
    const before = await mock.tokenRequests();
    const seen = [];
    const inner = client.oracledbAccessToken();
    const accessToken = async (refresh, config) => {
      seen.push({ refresh, config, connections });
      return inner(refresh, config);
    };
    const accessTokenConfig = { note: 'passed through' };
    try {
      await assert.rejects(oracledb.getConnection({
        connectString: `tcps://127.0.0.1:${srv.address().port}/freepdb1`, externalAuth: true,
        accessToken, accessTokenConfig, connectTimeout: 5, retryCount: 0,
      }), (e) => !['NJS-168', 'NJS-087'].includes(e.code));
    } finally {
      srv.close();
      client.close();
    }
    assert.equal(seen.length, 1);
    assert.equal(seen[0].refresh, false);
    assert.equal(seen[0].config, accessTokenConfig, 'the driver passes accessTokenConfig along');
    assert.equal(seen[0].connections, 0, 'asked before the driver opened a connection');
    assert.ok(connections >= 1, 'the driver went on to connect');
    assert.equal(await mock.tokenRequests() - before, 1);
  });

  test('getConnection to a closed port fails with the connection error, not a token error', async () => {
    const scope = await mock.newScope('node-closed');
    const client = new aadtoken.Client(mock.settings({ scope }));
    const { fn, calls } = recorded(client);
    const before = await mock.tokenRequests();
    await assert.rejects(oracledb.getConnection({
      connectString: `tcps://127.0.0.1:${await closedPort()}/freepdb1`, externalAuth: true,
      accessToken: fn, connectTimeout: 5, retryCount: 0,
    }), (e) => { assertConnectionError(e); return true; });
    assert.deepEqual(calls.map((c) => c.refresh), [false]);
    assert.equal(await mock.tokenRequests() - before, 1, 'the token was obtained');
    client.close();
  });

  test('the controls: a failing adapter is NJS-168, a missing externalAuth NJS-086', async () => {
    const port = await closedPort();
    const failing = new aadtoken.Client(mock.settings({ client_secret: 'wrong' }));
    await assert.rejects(oracledb.getConnection({
      connectString: `tcps://127.0.0.1:${port}/freepdb1`, externalAuth: true,
      accessToken: failing.oracledbAccessToken(), connectTimeout: 5, retryCount: 0,
    }), (e) => {
      assert.equal(e.code, 'NJS-168', String(e));
      return true;
    });
    failing.close();
    const client = new aadtoken.Client(mock.settings());
    await assert.rejects(oracledb.getConnection({
      connectString: `tcps://127.0.0.1:${port}/freepdb1`, accessToken: client.oracledbAccessToken(),
    }), { code: 'NJS-086' });
    await assert.rejects(oracledb.createPool({
      connectString: `tcps://127.0.0.1:${port}/freepdb1`, externalAuth: true, homogeneous: false,
      accessToken: client.oracledbAccessToken(),
    }), { code: 'NJS-085' });
    client.close();
  });

  test('person sign-in: getConnection never prompts; after the host signed in it connects', async () => {
    // The driver calls accessToken(false) before any network I/O. Nobody signed in: it fails
    // (NJS-168, the access token function failed) without a device code, although the prompt
    // would approve at once; after the host's signIn() the driver goes on to connect.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aadtoken-node-person-'));
    const shown = [];
    const client = new aadtoken.Client(
      mock.personSettings(path.join(dir, 'accounts.json'), { scope: await mock.newScope('node-person') }),
      { deviceCodeCallback: await mock.approveDeviceCodes(shown) },
    );
    const connect = async () => oracledb.getConnection({
      connectString: `tcps://127.0.0.1:${await closedPort()}/freepdb1`, externalAuth: true,
      accessToken: client.oracledbAccessToken(), connectTimeout: 5, retryCount: 0,
    });
    try {
      const codes = await mock.deviceCodesIssued();
      await assert.rejects(connect(), (e) => {
        assert.equal(e.code, 'NJS-168', String(e));
        return true;
      });
      assert.equal(shown.length, 0, 'no device code shown on the driver\'s behalf');
      assert.equal(await mock.deviceCodesIssued(), codes, 'none asked for');
      await client.signIn();
      await assert.rejects(connect(), (e) => { assertConnectionError(e); return true; });
      assert.equal(shown.length, 1, 'only the host\'s signIn()');
    } finally {
      client.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('createPool({ homogeneous: true }): the token at creation, a new one when it expired', async () => {
    const scope = await mock.newScope('node-pool');
    const client = new aadtoken.Client(mock.settings({ scope }));
    const { fn, calls } = recorded(client);
    const before = await mock.tokenRequests();
    // The first token lives 2 s (token_lifetime_s), so the pool finds it expired.
    await mock.control('POST', '/_mock/config', { token_lifetime_s: 2 });
    let pool;
    try {
      pool = await oracledb.createPool({
        connectString: `tcps://127.0.0.1:${await closedPort()}/freepdb1`, externalAuth: true,
        homogeneous: true, accessToken: fn, poolMin: 0, poolMax: 2, poolIncrement: 1,
        connectTimeout: 5, retryCount: 0,
      });
    } finally {
      await mock.control('POST', '/_mock/config', { token_lifetime_s: 3600 });
    }
    try {
      assert.deepEqual(calls.map((c) => c.refresh), [false], 'one call at pool creation');
      assert.equal(await mock.tokenRequests() - before, 1);
      await sleep(3100);
      await assert.rejects(pool.getConnection(), (e) => { assertConnectionError(e); return true; });
      assert.deepEqual(calls.map((c) => c.refresh), [false, true],
        'the pool asked for a new token when its token had expired');
      assert.equal(await mock.tokenRequests() - before, 2, 'and aadtoken fetched one');
      const token = await client.getToken();
      assert.ok(token.expiresIn > 3000, 'the new token replaced the short one in the cache');
    } finally {
      await pool.close(0);
      client.close();
    }
  });
});
