// parseAgentConfig on generated and edge-case input, agent names, and quick-fix edits.
import assert from 'node:assert/strict';
import {
  agentNameFromPath,
  applyEdits,
  MAX_CONFIG_BYTES,
  MAX_DIAGNOSTICS,
  parseAgentConfig,
  validateAgentName,
} from '../../../agent/shared/agent_config';

function codes(text: string, fileName?: string): string[] {
  return parseAgentConfig(text, fileName === undefined ? {} : { fileName }).diagnostics.map((diagnostic) => diagnostic.code);
}

function projectList(count: number): string {
  return Array.from({ length: count }, (_, index) => `    - id: group/project-${index}\n`).join('');
}

describe('parseAgentConfig', () => {
  it('returns the typed config of a valid file', () => {
    const result = parseAgentConfig('user_access:\n  access_as:\n    user: {}\nobservability:\n  logging:\n    level: warn\n');
    assert.deepEqual(result.diagnostics, []);
    assert.equal(result.config?.observability?.logging?.level, 'warn');
    assert.deepEqual(result.config?.user_access?.access_as, { user: {} });
  });

  it('treats an empty file as a valid empty config', () => {
    assert.deepEqual(parseAgentConfig(''), { config: {}, diagnostics: [] });
  });

  it('refuses a file over 128 KiB without parsing it', () => {
    const text = `# ${'x'.repeat(MAX_CONFIG_BYTES)}\n: : [ {`; // would also be a syntax error if parsed
    const result = parseAgentConfig(text);
    assert.deepEqual(
      result.diagnostics.map((diagnostic) => diagnostic.code),
      ['file-too-large'],
    );
    assert.match(result.diagnostics[0]!.message, /at most 128 KiB/);
  });

  it('counts the size in UTF-8 bytes, not characters', () => {
    const multiByte = `# ${'é'.repeat(MAX_CONFIG_BYTES / 2)}\n`; // ~64 Ki characters, ~128 KiB + bytes
    assert.deepEqual(codes(multiByte), ['file-too-large']);
  });

  it('allows 500 projects and refuses 501, pointing at the list key', () => {
    assert.deepEqual(codes(`ci_access:\n  projects:\n${projectList(500)}`), []);
    const result = parseAgentConfig(`ci_access:\n  projects:\n${projectList(501)}`);
    assert.deepEqual(
      result.diagnostics.map((diagnostic) => diagnostic.code),
      ['too-many-items'],
    );
    assert.match(result.diagnostics[0]!.message, /has 501 entries; at most 500/);
    assert.deepEqual(result.diagnostics[0]!.range.start, { line: 1, character: 2 });
  });

  it('refuses a deep billion-laughs file with a diagnostic rather than expanding it', () => {
    const levels = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (let level = 1; level < 20; level++) {
      const previous = String.fromCharCode(96 + level);
      levels.push(`${String.fromCharCode(97 + level)}: &${String.fromCharCode(97 + level)} [${Array(10).fill(`*${previous}`).join(', ')}]`);
    }
    assert.deepEqual(codes(levels.join('\n')), ['alias-limit']);
  });

  it('caps the diagnostics of a file with thousands of problems and says how many are hidden', () => {
    const text = Array.from({ length: 3000 }, (_, index) => `key${index}: 1`).join('\n');
    const result = parseAgentConfig(text);
    assert.equal(result.diagnostics.length, MAX_DIAGNOSTICS + 1);
    assert.deepEqual(result.diagnostics[MAX_DIAGNOSTICS], {
      ...result.diagnostics[MAX_DIAGNOSTICS]!,
      severity: 'information',
      code: 'too-many-diagnostics',
      message: `${3000 - MAX_DIAGNOSTICS} more problems are not shown`,
    });
  });

  it('refuses the config for an error that comes after the cap', () => {
    const duplicates = Array.from({ length: MAX_DIAGNOSTICS + 5 }, () => '    - id: same/project').join('\n');
    const result = parseAgentConfig(`user_access:\n  access_as:\n    agent: {}\n  projects:\n${duplicates}\nzzz_unknown: 1\n`);
    assert.ok(result.diagnostics.slice(0, MAX_DIAGNOSTICS).every((diagnostic) => diagnostic.severity === 'warning'));
    assert.equal(result.config, undefined);
  });

  it('turns runaway nesting into diagnostics, not a crash', () => {
    const result = parseAgentConfig(`a: ${'['.repeat(20000)}${']'.repeat(20000)}`);
    assert.ok(result.diagnostics.length > 0 && result.diagnostics.length <= MAX_DIAGNOSTICS + 1);
    assert.equal(result.config, undefined);
  });

  it('never throws on hostile or odd input', () => {
    const odd = [
      '{',
      ']',
      '!!binary x',
      '? [a]\n: b',
      '*undefined',
      '&a [*a]',
      'a: !!int x',
      '\t\ta: b',
      '%YAML 9.9\n---\na: 1',
      'a:\n- b\n -c',
    ];
    for (const text of odd) {
      const result = parseAgentConfig(text);
      assert.ok(result.diagnostics.length > 0, `expected diagnostics for ${JSON.stringify(text)}`);
      assert.equal(result.config, undefined);
    }
  });

  it('reports a bad agent name from the path and accepts a good one', () => {
    assert.deepEqual(codes('', '/repo/.gitlab/agents/Bad.Name/config.yaml'), ['invalid-agent-name']);
    assert.deepEqual(codes('', `/repo/.gitlab/agents/${'a'.repeat(64)}/config.yml`), ['invalid-agent-name']);
    assert.deepEqual(codes('', 'C:\\repo\\.gitlab\\agents\\prod-1\\config.yaml'), []);
  });

  it('offers a did-you-mean fix for an unknown top-level key', () => {
    const text = 'observabilty:\n  logging:\n    level: info\n';
    const [diagnostic] = parseAgentConfig(text).diagnostics;
    assert.equal(diagnostic?.fix?.title, 'Change to "observability"');
    assert.deepEqual(parseAgentConfig(applyEdits(text, diagnostic.fix.edits)).diagnostics, []);
  });

  it('offers to remove an unknown key that resembles no allowed key, with its nested lines', () => {
    const text = 'observability:\n  tracing:\n    sampler: always\n  logging:\n    level: info\n';
    const [diagnostic] = parseAgentConfig(text).diagnostics;
    assert.equal(diagnostic?.fix?.title, 'Remove the unknown key "tracing"');
    assert.equal(applyEdits(text, diagnostic.fix.edits), 'observability:\n  logging:\n    level: info\n');
  });

  it('offers no removal for a key that also starts a list item', () => {
    const [diagnostic] = parseAgentConfig('ci_access:\n  projects:\n    - zzzzzz: 1\n      id: a/b\n').diagnostics;
    assert.equal(diagnostic?.code, 'unknown-key');
    assert.equal(diagnostic.fix, undefined);
  });

  it('inserts a missing key into a flow mapping', () => {
    const text = 'container_scanning: {vulnerability_report: {namespaces: [default]}}\n';
    const [diagnostic] = parseAgentConfig(text).diagnostics;
    assert.equal(diagnostic?.code, 'missing-key');
    assert.match(diagnostic.message, /container_scanning is missing the required key "cadence"/);
    const fixed = applyEdits(text, diagnostic.fix!.edits);
    assert.deepEqual(parseAgentConfig(fixed).diagnostics, [], fixed);
  });

  it('removes gitops when flux is already configured', () => {
    const text = 'flux:\n  webhook_receiver_url: https://x.example/hook\ngitops:\n  manifest_projects: []\n';
    const [diagnostic] = parseAgentConfig(text).diagnostics;
    assert.match(diagnostic!.fix!.title, /Remove the gitops section/);
    assert.equal(applyEdits(text, diagnostic!.fix!.edits), 'flux:\n  webhook_receiver_url: https://x.example/hook\n');
  });

  it('places diagnostics the same way in CRLF and LF files', () => {
    const lf = 'observability:\n  logging:\n    levl: info\n';
    const crlf = lf.replace(/\n/g, '\r\n');
    const ranges = (text: string) => parseAgentConfig(text).diagnostics.map((diagnostic) => [diagnostic.code, diagnostic.range]);
    assert.deepEqual(ranges(crlf), ranges(lf));
    assert.deepEqual(ranges(lf), [['unknown-key', { start: { line: 2, character: 4 }, end: { line: 2, character: 8 } }]]);
  });

  it('refuses an empty id but accepts an empty default_namespace, as the reference does', () => {
    const result = parseAgentConfig('ci_access:\n  projects:\n    - id: ""\n      default_namespace: ""\n');
    assert.deepEqual(
      result.diagnostics.map((diagnostic) => diagnostic.message),
      ['ci_access.projects[0].id must not be empty'],
    );
  });

  it('warns about values the reference accepts but that cannot work, and keeps the config', () => {
    const text = 'container_scanning:\n  cadence: "every day"\nflux:\n  webhook_receiver_url: ftp://x\n';
    const result = parseAgentConfig(text);
    assert.deepEqual(
      result.diagnostics.map((diagnostic) => diagnostic.severity),
      ['warning', 'warning'],
    );
    assert.match(result.diagnostics[0]!.message, /cadence: "every day" is not a schedule agentk can run/);
    assert.match(result.diagnostics[1]!.message, /webhook_receiver_url: "ftp:\/\/x" is not an http/);
    assert.ok(result.config, 'warnings keep the config');
  });
});

describe('agent names', () => {
  it('agentNameFromPath reads the folder name of config.yaml and config.yml only', () => {
    assert.equal(agentNameFromPath('.gitlab/agents/my-agent/config.yaml'), 'my-agent');
    assert.equal(agentNameFromPath('/a/b/.gitlab/agents/x1/config.yml'), 'x1');
    assert.equal(agentNameFromPath('/a/b/.gitlab/agents/x1/other.yaml'), undefined);
    assert.equal(agentNameFromPath('/a/b/agents/x1/config.yaml'), undefined);
  });

  it('validateAgentName accepts DNS labels up to 63 characters', () => {
    assert.equal(validateAgentName('a'), undefined);
    assert.equal(validateAgentName('prod-eu-1'), undefined);
    assert.equal(validateAgentName('a'.repeat(63)), undefined);
    assert.match(validateAgentName('a'.repeat(64)) ?? '', /at most 63/);
    for (const bad of ['', '-a', 'a-', 'A', 'a_b', 'a.b']) assert.ok(validateAgentName(bad), `"${bad}" should be refused`);
  });
});
