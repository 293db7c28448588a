// Seeded random edits of a real config: parseAgentConfig must never fail internally, must keep
// every range inside the text, and the fast reader must agree with the yaml package whenever
// it reads the edited text. The seed is fixed, so a failure reproduces.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAgentConfig, type ConfigDiagnostic } from '../../../agent/shared/agent_config';
import { completionsAt, hoverAt } from '../../../extension/src/agent_config';
import { diagnoseWithSimpleReader, diagnoseWithYamlPackage, type ContentCheck } from '../../../agent/shared/agent_config/parse';

const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'agent_configs');
// Deeper runs: AGENT_CONFIG_FUZZ_ROUNDS=20000 AGENT_CONFIG_FUZZ_SEED=7 npx mocha test/shared/agent_config/fuzz.test.ts
const ROUNDS = Number(process.env.AGENT_CONFIG_FUZZ_ROUNDS ?? 400);
const SEED = Number(process.env.AGENT_CONFIG_FUZZ_SEED ?? 20261121);
const ALPHABET = [
  ' ',
  '  ',
  ':',
  '-',
  '- ',
  '[',
  ']',
  '{',
  '}',
  '"',
  "'",
  '#',
  '  # c',
  '&a',
  '*a',
  '!',
  '|',
  '>',
  '\n',
  '\r',
  '\r\n',
  '\t',
  'x',
  'é',
  '\\',
  'id',
  'agent: {}',
  '0',
  ',',
  '~',
  '---\n',
];

/** Small deterministic PRNG (mulberry32). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(text: string, next: () => number): string {
  let result = text;
  const edits = 1 + Math.floor(next() * 3);
  for (let edit = 0; edit < edits; edit++) {
    const at = Math.floor(next() * (result.length + 1));
    const removed = next() < 0.5 ? Math.floor(next() * 4) : 0;
    const inserted = next() < 0.7 ? ALPHABET[Math.floor(next() * ALPHABET.length)]! : '';
    result = result.slice(0, at) + inserted + result.slice(at + removed);
  }
  return result;
}

function assertInside(text: string, diagnostic: ConfigDiagnostic): void {
  const lines = text.split(/\r\n|\r|\n/);
  for (const position of [diagnostic.range.start, diagnostic.range.end]) {
    assert.ok(position.line >= 0 && position.line < lines.length, `line ${position.line} outside the text: ${diagnostic.message}`);
    assert.ok(
      position.character >= 0 && position.character <= lines[position.line]!.length,
      `character outside line: ${diagnostic.message} ${JSON.stringify(diagnostic.range)} ${JSON.stringify(lines.slice(Math.max(0, position.line - 1), position.line + 2))}`,
    );
  }
}

const comparable = (check: ContentCheck) => ({ data: check.data, diagnostics: check.diagnostics, unmapped: check.unmapped ?? 0 });

function randomPosition(text: string, next: () => number): { line: number; character: number } {
  const lines = text.split(/\r\n|\r|\n/);
  const line = Math.floor(next() * lines.length);
  return { line, character: Math.floor(next() * (lines[line]!.length + 1)) };
}

describe('agent config fuzzing (seeded random edits)', () => {
  // Anchors are outside the fast reader's subset: that base exercises the yaml package path.
  const bases = [
    { base: 'valid/full.yaml', fastReadable: true },
    { base: 'valid/aliases-within-budget.yaml', fastReadable: false },
    { base: 'invalid/access-as-two-modes.yaml', fastReadable: true },
  ];
  for (const { base, fastReadable } of bases) {
    it(`survives ${ROUNDS} edited variants of ${base}: in-range diagnostics, agreeing readers, editor model intact`, function () {
      this.timeout(120_000);
      const original = readFileSync(join(FIXTURES, base), 'utf8');
      const next = random(SEED + base.length);
      let fastReads = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const text = mutate(original, next);
        const result = parseAgentConfig(text);
        for (const diagnostic of result.diagnostics) {
          assert.notEqual(diagnostic.code, 'internal-error', `${diagnostic.message}\n--- text ---\n${text}`);
          assertInside(text, diagnostic);
        }
        const fast = diagnoseWithSimpleReader(text);
        if (fast !== undefined) {
          fastReads++;
          assert.deepEqual(comparable(fast), comparable(diagnoseWithYamlPackage(text)), `readers disagree on:\n${text}`);
        }
        const { line, character } = randomPosition(text, next);
        assert.ok(Array.isArray(completionsAt(text, line, character)));
        const hover = hoverAt(text, line, character);
        assert.ok(hover === undefined || hover.length > 0);
      }
      if (fastReadable) assert.ok(fastReads > ROUNDS / 10, `the fast reader read only ${fastReads} variants`);
    });
  }
});
