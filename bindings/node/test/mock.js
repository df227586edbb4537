'use strict';
// Start the bundled mock Entra ID server (target/debug/aadtoken-mock) for the Node tests, and talk
// to its control API (GET /_mock/counters, POST /_mock/config, ...) over HTTPS, trusting the CA
// it generates. As bindings/python/tests/mock.py does. Mock fixture values below are not real
// credentials.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..', '..');
const TARGET = path.resolve(REPO, process.env.CARGO_TARGET_DIR || 'target');

// The library under test: AADTOKEN_LIB, else the in-tree debug build (set before aadtoken loads it).
process.env.AADTOKEN_LIB = process.env.AADTOKEN_LIB || path.join(TARGET, 'debug', 'libaadtoken.so');
const MOCK_BIN = process.env.AADTOKEN_MOCK || path.join(TARGET, 'debug', 'aadtoken-mock');

// The mock's fixture app (mock/README.md).
const TENANT_ID = '11111111-1111-1111-1111-111111111111';
const CLIENT_ID = '22222222-2222-2222-2222-222222222222';
const CLIENT_SECRET = 'mock-secret-Value~0123456789';
const SCOPE = 'api://oracle-db/.default';
// The mock's public client (person sign-in) and its fixture user.
const PUBLIC_CLIENT_ID = '88888888-8888-8888-8888-888888888888';
const USER = 'dba@contoso.onmicrosoft.com';

/** Fail (not skip) with a hint when the library or the mock has not been built. */
function requireBuilt() {
  for (const p of [process.env.AADTOKEN_LIB, MOCK_BIN]) {
    if (!fs.existsSync(p)) {
      throw new Error(`${p} not found: run \`cargo build --workspace\` first (scripts/test.sh does)`);
    }
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One mock server process on 127.0.0.1 with its own CA. */
class Mock {
  static async start() {
    requireBuilt();
    const mock = new Mock();
    mock.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aadtoken-node-'));
    mock.caFile = path.join(mock.dir, 'ca.pem');
    const portFile = path.join(mock.dir, 'port');
    const log = fs.openSync(path.join(mock.dir, 'mock.log'), 'w');
    mock.proc = spawn(MOCK_BIN, ['--port', '0', '--ca-out', mock.caFile, '--port-file', portFile],
      { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    let exited = false;
    mock.proc.on('exit', () => { exited = true; });
    const deadline = Date.now() + 30000;
    while (!(fs.existsSync(portFile) && fs.statSync(portFile).size > 0)) {
      if (exited || Date.now() > deadline) {
        const text = fs.readFileSync(path.join(mock.dir, 'mock.log'), 'utf8');
        await mock.stop();
        throw new Error(`the mock did not start:\n${text}`);
      }
      await sleep(50);
    }
    mock.port = Number(fs.readFileSync(portFile, 'utf8').trim());
    mock.baseUrl = `https://127.0.0.1:${mock.port}`;
    mock.ca = fs.readFileSync(mock.caFile);
    return mock;
  }

  /** The fixture app's settings as an object, pointed at this mock; `null` removes a key. */
  settings(overrides = {}) {
    const s = {
      tenant_id: TENANT_ID, client_id: CLIENT_ID, client_secret: CLIENT_SECRET,
      authority_host: this.baseUrl, ca_file: this.caFile, scope: SCOPE,
    };
    for (const [k, v] of Object.entries(overrides)) {
      if (v === null) {
        delete s[k];
      } else {
        s[k] = v;
      }
    }
    return s;
  }

  /**
   * Settings of the public client signing a person in with a device code, keeping the account in
   * `cacheFile` (a path in a private directory: a store of its own).
   */
  personSettings(cacheFile, overrides = {}) {
    return this.settings({
      client_id: PUBLIC_CLIENT_ID, client_secret: null, auth_method: 'device_code', cache_file: cacheFile,
      ...overrides,
    });
  }

  /**
   * A deviceCodeCallback approving each code as USER and pushing it to `shown`; the mock polls
   * every second from now on.
   */
  async approveDeviceCodes(shown) {
    await this.control('POST', '/_mock/devicecode', { interval: 1, expires_in: 60 });
    return (prompt) => {
      shown.push(prompt);
      return this.control('POST', '/_mock/devicecode/approve', { user_code: prompt.userCode, user: USER });
    };
  }

  async deviceCodesIssued() {
    return (await this.control('GET', '/_mock/counters')).requests_by_route.devicecode || 0;
  }

  control(method, urlPath, body) {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? null : JSON.stringify(body);
      const req = https.request(`${this.baseUrl}${urlPath}`, {
        method, ca: this.ca, headers: { 'Content-Type': 'application/json' }, timeout: 10000,
      }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => { text += chunk; });
        res.on('end', () => {
          if (res.statusCode >= 400) {
            reject(new Error(`${method} ${urlPath}: ${res.statusCode} ${text}`));
          } else {
            resolve(/^\s*[[{]/.test(text) ? JSON.parse(text) : text);
          }
        });
      });
      req.on('error', reject);
      req.end(data);
    });
  }

  async tokenRequests() {
    return (await this.control('GET', '/_mock/counters')).token_requests;
  }

  /** Register a new resource, so the process-wide cache is cold for its scope. */
  async newScope(name) {
    const uri = `api://${name}-${process.hrtime.bigint()}`;
    await this.control('POST', '/_mock/resources', { app_id_uri: uri });
    return `${uri}/.default`;
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((resolve) => this.proc.once('exit', resolve));
      this.proc.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

module.exports = {
  Mock, requireBuilt, sleep, TENANT_ID, CLIENT_ID, CLIENT_SECRET, SCOPE, PUBLIC_CLIENT_ID, USER, REPO,
};
