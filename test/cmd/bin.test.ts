// The programs package.json names in `bin` are built, executable as scripts, and answer --help;
// an unknown option is a usage error (exit 2) with one clear line, not a stack trace.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };

function run(script: string, args: string[]) {
  return spawnSync(process.execPath, [path.join(root, script), ...args], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
}

describe('command-line programs (package.json bin)', () => {
  it('names kas, agentk and kas-devcluster', () => {
    assert.deepEqual(Object.keys(manifest.bin).sort(), ['agentk', 'kas', 'kas-devcluster']);
  });

  for (const [name, script] of Object.entries(manifest.bin)) {
    it(`${name} starts with a node shebang and answers --help with its usage`, () => {
      assert.match(readFileSync(path.join(root, script), 'utf8'), /^#!\/usr\/bin\/env node\n/);
      const result = run(script, ['--help']);
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`${name}`));
      assert.match(result.stdout, /usage/i);
    });

    it(`${name} rejects an unknown option with a one-line usage error`, () => {
      const result = run(script, ['--no-such-option']);
      assert.notEqual(result.status, 0);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
      assert.match(result.stderr, /no-such-option|unknown/i);
    });
  }
});
