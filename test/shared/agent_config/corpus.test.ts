// The fixture corpus: every valid config parses clean; every invalid one yields exactly the
// diagnostics its .expected.json names (1-based line/column, code, message substring).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyEdits, parseAgentConfig, type ConfigDiagnostic } from '../../../agent/shared/agent_config';

const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'agent_configs');

interface ExpectedDiagnostic {
  line: number;
  column: number;
  code: string;
  message: string;
  severity?: ConfigDiagnostic['severity'];
}

interface Expectation {
  fileName?: string;
  /** True when the diagnostics are only warnings, so a config is still returned. */
  valid?: boolean;
  /** True when applying every offered fix must give a config without diagnostics. */
  fixedIsValid?: boolean;
  diagnostics: ExpectedDiagnostic[];
}

function yamlFiles(folder: string): string[] {
  return readdirSync(join(FIXTURES, folder))
    .filter((name) => /\.ya?ml$/.test(name))
    .sort();
}

function describeDiagnostic(diagnostic: ConfigDiagnostic): string {
  return `${diagnostic.range.start.line + 1}:${diagnostic.range.start.character + 1} ${diagnostic.code} ${diagnostic.message}`;
}

describe('agent config corpus', () => {
  describe('valid configs parse without diagnostics', () => {
    for (const name of yamlFiles('valid')) {
      it(name, () => {
        const text = readFileSync(join(FIXTURES, 'valid', name), 'utf8');
        const result = parseAgentConfig(text, { fileName: `.gitlab/agents/fixture/${name}` });
        assert.deepEqual(result.diagnostics.map(describeDiagnostic), []);
        assert.ok(result.config, 'a valid file yields a config');
      });
    }
  });

  describe('invalid configs yield exactly the expected diagnostics', () => {
    for (const name of yamlFiles('invalid')) {
      const expectation = JSON.parse(
        readFileSync(join(FIXTURES, 'invalid', name.replace(/\.ya?ml$/, '.expected.json')), 'utf8'),
      ) as Expectation;
      it(`${name}: ${expectation.diagnostics.map((diagnostic) => diagnostic.code).join(', ')}`, () => {
        const text = readFileSync(join(FIXTURES, 'invalid', name), 'utf8');
        const result = parseAgentConfig(text, { fileName: expectation.fileName ?? name });
        const actual = result.diagnostics.map(describeDiagnostic);
        assert.equal(result.diagnostics.length, expectation.diagnostics.length, `diagnostics: ${actual.join(' | ')}`);
        expectation.diagnostics.forEach((expected, index) => {
          const diagnostic = result.diagnostics[index]!;
          assert.equal(diagnostic.code, expected.code, actual[index]);
          assert.equal(diagnostic.range.start.line + 1, expected.line, actual[index]);
          assert.equal(diagnostic.range.start.character + 1, expected.column, actual[index]);
          assert.ok(diagnostic.message.includes(expected.message), `"${diagnostic.message}" should contain "${expected.message}"`);
          assert.equal(diagnostic.severity, expected.severity ?? 'error');
        });
        assert.equal(result.config !== undefined, expectation.valid === true, 'config is returned only without errors');
        if (expectation.fixedIsValid === true) assertFixesRepair(text, result.diagnostics);
      });
    }
  });
});

function assertFixesRepair(text: string, diagnostics: ConfigDiagnostic[]): void {
  const edits = diagnostics.flatMap((diagnostic) => diagnostic.fix?.edits ?? []);
  assert.ok(edits.length > 0, 'every diagnostic of this fixture offers a fix');
  const fixed = applyEdits(text, edits);
  const after = parseAgentConfig(fixed);
  assert.deepEqual(after.diagnostics.map(describeDiagnostic), [], `fixed text:\n${fixed}`);
  assert.ok(after.config);
}
