#!/usr/bin/env node
// The "system browser" of aadtoken's browser sign-in in cli/tests/chromium.rs: xdg-open runs it
// as $BROWSER with the sign-in URL as its one argument, and it drives Debian's Chromium
// (headless, through playwright-core) as a person would:
//
//   AADTOKEN_BROWSER_MODE=sign-in  open the page, click "Sign in" on the mock's sign-in page,
//                                  land on aadtoken's loopback listener, wait for its "signed in"
//                                  page, screenshot it, ask for /favicon.ico, reload the page;
//   AADTOKEN_BROWSER_MODE=close    open the page, then close the browser without signing in.
//
// AADTOKEN_BROWSER_CA: the mock's CA (the mock's server key is trusted by its SPKI hash, after
// this script checked the certificate against that CA). AADTOKEN_BROWSER_SCREENSHOT: where the
// final page's screenshot goes. AADTOKEN_BROWSER_REPORT: a JSON file of what the browser saw.
// Exits 0 when the browser did what the mode says.

import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

import { chromium } from 'playwright-core';

const url = process.argv[2];
const mode = process.env.AADTOKEN_BROWSER_MODE ?? 'sign-in';
const report = { url, mode };
let userDataDir;
const done = (code) => {
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  if (process.env.AADTOKEN_BROWSER_REPORT) fs.writeFileSync(process.env.AADTOKEN_BROWSER_REPORT, JSON.stringify(report, null, 2));
  process.exit(code);
};

// The SPKI hash of the identity provider's certificate, checked against the test CA first.
function spkiOf(target) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: target.hostname, port: Number(target.port), ca: fs.readFileSync(process.env.AADTOKEN_BROWSER_CA),
    }, () => {
      const der = socket.getPeerX509Certificate().publicKey.export({ type: 'spki', format: 'der' });
      socket.end();
      resolve(crypto.createHash('sha256').update(der).digest('base64'));
    });
    socket.on('error', reject);
  });
}

const target = new URL(url);
report.redirect_uri = target.searchParams.get('redirect_uri');
userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aadtoken-chromium-'));
let context;
try {
  const spki = await spkiOf(target);
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--ignore-certificate-errors-spki-list=${spki}`],
  });
  const page = context.pages()[0] ?? await context.newPage();
  report.requests = [];
  page.on('request', (r) => report.requests.push(r.url()));
  await page.goto(url);
  await page.waitForSelector('#sign-in');
  report.sign_in_page = (await page.textContent('body')).trim();
  if (mode === 'close') {
    report.closed_without_signing_in = true;
  } else {
    await Promise.all([
      page.waitForURL((u) => u.hostname === 'localhost'),
      page.click('#sign-in'),
    ]);
    await page.waitForSelector('text=You are signed in');
    report.final_url = page.url();
    report.final_page = (await page.textContent('body')).trim();
    if (process.env.AADTOKEN_BROWSER_SCREENSHOT) await page.screenshot({ path: process.env.AADTOKEN_BROWSER_SCREENSHOT });
    report.favicon_status = await page.evaluate(async () => (await fetch('/favicon.ico')).status);
    await page.reload();
    report.reloaded_page = (await page.textContent('body')).trim();
  }
  await context.close();
  context = null;
  done(0);
} catch (e) {
  report.error = String(e?.stack ?? e);
  if (context) await context.close().catch(() => {});
  done(1);
}
