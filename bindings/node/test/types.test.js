'use strict';
// The TypeScript declarations (index.d.ts, status.d.ts) compile with the README's usage under
// `tsc --strict`, and reject the misuse marked with @ts-expect-error in types.ts.

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { test } = require('node:test');

test('index.d.ts type-checks the usage in types.ts', () => {
  const tsc = path.join(__dirname, '..', 'node_modules', '.bin', 'tsc');
  let output = '';
  try {
    execFileSync(tsc, ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext',
      '--target', 'es2022', '--types', '', path.join(__dirname, 'types.ts')], { encoding: 'utf8' });
  } catch (e) {
    output = `${e.stdout}${e.stderr}`;
  }
  assert.equal(output, '', output);
});

test('the packed package holds the code and its declarations', () => {
  const [pack] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--silent'],
    { cwd: path.join(__dirname, '..'), encoding: 'utf8' }));
  const files = pack.files.map((f) => f.path).sort();
  assert.deepEqual(files, ['index.d.ts', 'index.js', 'native.js', 'package.json', 'status.d.ts', 'status.js']);
});
