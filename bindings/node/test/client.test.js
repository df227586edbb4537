'use strict';
// The Node binding against the mock Entra ID server: tokens, cache and refresh, settings from an
// object, a string and the environment, error mapping, the event loop kept free, close.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const util = require('node:util');
const { execFileSync } = require('node:child_process');
const { after, before, describe, test } = require('node:test');

const { Mock, sleep, TENANT_ID, CLIENT_ID, CLIENT_SECRET, SCOPE, REPO } = require('./mock');
const aadtoken = require('..');

let mock;
before(async () => { mock = await Mock.start(); });
after(async () => { await mock.stop(); });

/** Run `fn` with environment variables set, restoring them afterwards. */
async function withEnv(vars, fn) {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) {
        delete process.env[k];
      } else {
        process.env[k] = v;
      }
    }
  }
}

describe('tokens', () => {
  test('version and status text', () => {
    const cargo = fs.readFileSync(path.join(REPO, 'Cargo.toml'), 'utf8');
    assert.equal(aadtoken.version(), cargo.match(/^version = "(.*)"/m)[1]);
    assert.match(aadtoken.statusText(300), /^AADTOKEN_ERR_INVALID_CLIENT: /);
    assert.match(aadtoken.statusText(424242), /^AADTOKEN_ERR_UNKNOWN/);
    assert.equal(aadtoken.status.ERR_INVALID_CLIENT, 300);
    assert.ok(Object.isFrozen(aadtoken.status));
  });

  test('a token from an object, then cached, then refreshed', async () => {
    const scope = await mock.newScope('node-cache');
    const before = await mock.tokenRequests();
    const client = new aadtoken.Client(mock.settings({ scope }));
    try {
      const t1 = await client.getToken();
      assert.match(t1.token, /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
      assert.ok(t1.expiresOn instanceof Date);
      assert.ok(t1.expiresIn > 3000 && t1.expiresIn <= 3600, String(t1.expiresIn));
      assert.ok(t1.refreshOn <= t1.expiresOn);
      assert.ok(Object.isFrozen(t1));
      const t2 = await client.getToken(scope);
      assert.equal(t2.token, t1.token);
      assert.equal(await mock.tokenRequests() - before, 1, 'the second get is cached');
      const t3 = await client.refreshToken([scope]);
      assert.notEqual(t3.token, t1.token);
      assert.equal(await mock.tokenRequests() - before, 2);
      assert.equal((await client.getToken()).token, t3.token, 'refresh replaced the cached token');
    } finally {
      client.close();
    }
  });

  test('a settings string, explicit scopes, numbers and booleans as values', async () => {
    const s = `tenant_id=${TENANT_ID}; client_id=${CLIENT_ID}; client_secret="${CLIENT_SECRET}"; `
      + `authority_host=${mock.baseUrl}; ca_file=${mock.caFile}`;
    const client = new aadtoken.Client(s);
    try {
      const other = await mock.newScope('node-string');
      assert.match((await client.getToken(other)).token, /^eyJ/);
      await assert.rejects(client.getToken(), (e) => {
        assert.ok(e instanceof aadtoken.AadTokenError);
        assert.equal(e.status, aadtoken.status.ERR_MISSING_SETTING);
        assert.match(e.message, /scope/);
        return true;
      });
    } finally {
      client.close();
    }
    const typed = new aadtoken.Client(mock.settings({ timeout_ms: 5000, log_pii: false }));
    assert.match((await typed.getToken()).token, /^eyJ/);
    typed.close();
  });

  test('settings from the environment; explicit settings override it', async () => {
    await withEnv({
      AZURE_TENANT_ID: TENANT_ID, AZURE_CLIENT_ID: CLIENT_ID, AZURE_CLIENT_SECRET: CLIENT_SECRET,
      AZURE_AUTHORITY_HOST: mock.baseUrl, AADTOKEN_SETTINGS: `scope=${SCOPE}; ca_file=${mock.caFile}`,
    }, async () => {
      const fromEnv = aadtoken.Client.fromEnvironment();
      assert.match((await fromEnv.refreshToken()).token, /^eyJ/);
      fromEnv.close();
      process.env.AZURE_CLIENT_SECRET = 'wrong';
      const overridden = new aadtoken.Client(
        { client_secret: CLIENT_SECRET, scope: SCOPE, ca_file: mock.caFile }, { env: true });
      assert.match((await overridden.refreshToken()).token, /^eyJ/);
      overridden.close();
    });
  });

  test('inspecting a token or a client never shows the token', async () => {
    const client = new aadtoken.Client(mock.settings());
    const t = await client.getToken();
    for (const text of [util.inspect(t), String(t), `${t}`, util.inspect(client)]) {
      assert.ok(!text.includes(t.token), text);
      assert.ok(!text.includes('eyJ'), text);
    }
    client.close();
  });

  test('claims', async () => {
    const client = new aadtoken.Client(mock.settings());
    const t = await client.getToken();
    const c = t.claims();
    assert.equal(c.aud, 'api://oracle-db');
    assert.equal(c.appid, CLIENT_ID);
    assert.equal(c.tid, TENANT_ID);
    assert.deepEqual(c.roles, ['DBA']);
    assert.deepEqual(c.scp, []);
    assert.equal(c.exp, Math.floor(t.expiresOn.getTime() / 1000));
    assert.ok(c.iat > 0 && c.nbf > 0);
    assert.equal(JSON.parse(c.json).aud, 'api://oracle-db');
    client.close();
  });
});

describe('errors', () => {
  test('a wrong secret: status, AADSTS, OAuth code, correlation id, no secret', async () => {
    const before = await mock.tokenRequests();
    const client = new aadtoken.Client(mock.settings({ client_secret: 'not-the-value' }));
    const e = await client.getToken().catch((err) => err);
    client.close();
    assert.ok(e instanceof aadtoken.AadTokenError);
    assert.ok(e instanceof Error);
    assert.equal(e.name, 'AadTokenError');
    assert.equal(e.status, 300);
    assert.equal(e.statusName, 'AADTOKEN_ERR_INVALID_CLIENT');
    assert.equal(e.aadsts, 7000215);
    assert.deepEqual(e.aadstsCodes, [7000215]);
    assert.equal(e.oauthCode, 'invalid_client');
    assert.match(e.correlationId, /^[0-9a-f-]{36}$/);
    assert.ok(e.message.includes(e.correlationId));
    assert.ok(e.traceId);
    assert.equal(e.httpStatus, 401);
    assert.ok(!util.inspect(e).includes('not-the-value'));
    assert.equal(await mock.tokenRequests() - before, 1, 'a 4xx is not retried');
  });

  test('setting errors name the setting', () => {
    const cases = [
      [{ ...mock.settings(), no_such_key: 'x' }, 101, 'no_such_key'],
      [mock.settings({ timeout_ms: 'soon' }), 102, 'timeout_ms'],
      [mock.settings({ client_secret: null }), 103, 'client_secret'],
      ['tenant_id="unterminated', 100, ''],
    ];
    for (const [settings, code, named] of cases) {
      assert.throws(() => new aadtoken.Client(settings), (e) => {
        assert.ok(e instanceof aadtoken.AadTokenError, String(e));
        assert.equal(e.status, code);
        assert.ok(e.message.includes(named), e.message);
        return true;
      });
    }
    assert.throws(() => new aadtoken.Client({ ...mock.settings(), ca_file: undefined }),
      { name: 'TypeError', message: /'ca_file'/ });
    assert.throws(() => new aadtoken.Client(42), TypeError);
    const client = new aadtoken.Client(mock.settings());
    assert.throws(() => client.getToken(42), { name: 'TypeError', message: /scopes/ });
    client.close();
  });

  test('an untrusted CA is a TLS error, connection refused a network error', async () => {
    const scope = await mock.newScope('node-tls');
    const before = await mock.tokenRequests();
    const untrusted = new aadtoken.Client(mock.settings({ ca_file: null, scope }));
    await assert.rejects(untrusted.getToken(), { status: aadtoken.status.ERR_TLS });
    untrusted.close();
    assert.equal(await mock.tokenRequests() - before, 0);
    const refused = new aadtoken.Client(mock.settings({ authority_host: 'https://127.0.0.1:1', timeout_ms: 5000 }));
    await assert.rejects(refused.refreshToken(), { status: aadtoken.status.ERR_NETWORK });
    refused.close();
  });
});

describe('the event loop and the lifecycle', () => {
  /** Run `fn(client)` with the mock answering after `latencyMs`, for a client of a fresh scope. */
  async function withSlowMock(latencyMs, name, fn) {
    const scope = await mock.newScope(name);
    await mock.control('POST', '/_mock/config', { latency_ms: latencyMs });
    const client = new aadtoken.Client(mock.settings({ scope }));
    try {
      await fn(client);
    } finally {
      client.close();
      await mock.control('POST', '/_mock/config', { latency_ms: 0 });
    }
  }

  test('the event loop keeps turning while a request waits for the identity provider', async () => {
    await withSlowMock(600, 'node-loop', async (client) => {
      let ticks = 0;
      const timer = setInterval(() => { ticks++; }, 20);
      const token = await client.getToken();
      clearInterval(timer);
      assert.match(token.token, /^eyJ/);
      // A call that blocked the loop would let the timer fire at most once.
      assert.ok(ticks >= 5, `the timer fired ${ticks} times during a 600 ms request`);
    });
  });

  test('concurrent calls share one request', async () => {
    await withSlowMock(200, 'node-concurrent', async (client) => {
      const before = await mock.tokenRequests();
      const tokens = await Promise.all(Array.from({ length: 64 }, () => client.getToken()));
      assert.equal(new Set(tokens.map((t) => t.token)).size, 1);
      assert.equal(await mock.tokenRequests() - before, 1);
    });
  });

  test('close: idempotent, waits for calls in flight, later calls throw', async () => {
    await withSlowMock(300, 'node-close', async (client) => {
      const inFlight = client.getToken();
      await sleep(50);
      client.close();
      client.close();
      assert.ok(client.closed);
      const token = await inFlight;
      assert.match(token.token, /^eyJ/, 'a call in flight when close() was called completes');
      for (const call of [() => client.getToken(), () => client.refreshToken(),
        () => client.oracledbAccessToken()(false), () => client.writeTokenFile(os.tmpdir())]) {
        await assert.rejects(call(), /closed/);
      }
      assert.match(token.token, /^eyJ/, 'tokens outlive their client');
    });
  });

  test('shutdown, then use again; refused while a call is in flight', async () => {
    const scope = await mock.newScope('node-shutdown');
    const client = new aadtoken.Client(mock.settings({ scope }));
    const first = await client.getToken();
    const pending = client.refreshToken();
    assert.throws(() => aadtoken.shutdown(), /in progress/);
    await pending;
    aadtoken.shutdown();
    aadtoken.shutdown();
    const again = await client.getToken();
    assert.notEqual(again.token, first.token, 'the refreshed token was cached');
    assert.notEqual((await client.refreshToken()).token, again.token, 'the network works again');
    client.close();
  });
});

describe('koffi', () => {
  test("requiring aadtoken raises koffi's stack for worker-thread calls to 2 MiB", () => {
    assert.ok(require('koffi').config().async_stack_size >= 2 * 1024 * 1024);
  });

  test('too late to raise it: the first call says so instead of overflowing the stack', () => {
    const script = `const koffi = require('koffi'); koffi.load('libc.so.6');
      try { require('.').version(); console.log('no error'); } catch (e) { console.log(e.message); }`;
    const out = execFileSync(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..'), encoding: 'utf8' });
    assert.match(out, /aadtoken needs koffi's async_stack_size to be at least 2097152 bytes/);
    assert.match(out, /require\('aadtoken'\) before any other package/);
  });
});

describe('the Oracle token file', () => {
  test('written once, and kept by a keeper that outlives its client', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aadtoken-node-file-'));
    fs.chmodSync(dir, 0o700);
    try {
      const client = new aadtoken.Client(mock.settings());
      await client.writeTokenFile(dir);
      const file = path.join(dir, 'token');
      const written = fs.readFileSync(file, 'utf8');
      assert.equal(written, (await client.getToken()).token, 'the raw token, no newline');
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);

      const link = path.join(dir, 'link');
      fs.symlinkSync(file, link);
      await assert.rejects(client.writeTokenFile(link), { status: aadtoken.status.ERR_UNSAFE_PATH });

      fs.rmSync(file);
      const keeper = await client.startTokenFileKeeper(dir);
      client.close();
      assert.equal(keeper.path, file);
      assert.ok(fs.readFileSync(file, 'utf8').startsWith('eyJ'));
      assert.ok(keeper.expiresOn.getTime() > Date.now());
      assert.equal(keeper.lastError, null);
      await keeper.stop();
      await keeper.stop();
      assert.ok(keeper.stopped);
      assert.throws(() => keeper.expiresOn, /stopped/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
