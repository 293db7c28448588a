// validateConfigFiles: the logic behind `kas validate-config <file>...` for CI pipelines.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT_CLEAN, EXIT_INVALID, EXIT_UNREADABLE, validateConfigFiles } from '../../../agent/shared/agent_config';

describe('validateConfigFiles', () => {
  let dir: string;
  let good: string;
  let bad: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'agent-config-'));
    await mkdir(join(dir, '.gitlab', 'agents', 'prod'), { recursive: true });
    good = join(dir, '.gitlab', 'agents', 'prod', 'config.yaml');
    bad = join(dir, 'bad.yaml');
    await writeFile(good, 'user_access:\n  access_as:\n    agent: {}\n');
    await writeFile(bad, 'observability:\n  logging:\n    level: loud\n  tracing: {}\n');
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function run(paths: string[]): Promise<{ code: number; lines: string[] }> {
    const lines: string[] = [];
    const code = await validateConfigFiles(paths, (line) => lines.push(line));
    return { code, lines };
  }

  it('prints nothing and exits 0 for a valid file', async () => {
    assert.deepEqual(await run([good]), { code: EXIT_CLEAN, lines: [] });
  });

  it('prints file:line:col: severity: message (1-based) and exits 1 on errors', async () => {
    const { code, lines } = await run([good, bad]);
    assert.equal(code, EXIT_INVALID);
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, new RegExp(`^${escape(bad)}:3:12: error: observability\\.logging\\.level: "loud" is not one of`));
    assert.match(lines[1]!, new RegExp(`^${escape(bad)}:4:3: error: Unknown key "tracing"`));
  });

  it('exits 2 for a missing file or a directory, and still checks the other files', async () => {
    const missing = join(dir, 'nope.yaml');
    const { code, lines } = await run([missing, dir, bad]);
    assert.equal(code, EXIT_UNREADABLE);
    assert.equal(lines[0], `${missing}: error: no such file`);
    assert.match(lines[1]!, /: error: is a directory/);
    assert.equal(lines.filter((line) => line.startsWith(`${bad}:`)).length, 2);
  });

  it('checks the agent name of .gitlab/agents/<name>/config.yaml paths', async () => {
    const badName = join(dir, '.gitlab', 'agents', 'Prod_1', 'config.yaml');
    await mkdir(join(dir, '.gitlab', 'agents', 'Prod_1'), { recursive: true });
    await writeFile(badName, '');
    const { code, lines } = await run([badName]);
    assert.equal(code, EXIT_INVALID);
    assert.match(lines[0]!, /:1:1: error: agent name "Prod_1" must be a DNS label/);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
