// The fast reader must agree with the yaml package whenever it answers, and must give up
// (answer undefined) on everything outside its subset, so the full path can take over.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import {
  diagnoseWithSimpleReader,
  diagnoseWithYamlPackage,
  YAML_READ_OPTIONS,
  type ContentCheck,
} from '../../../agent/shared/agent_config/parse';
import { parseSimpleYaml } from '../../../agent/shared/agent_config/simple_yaml';
import { generateConfig } from '../../../bench/agent_config.bench';

const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'agent_configs');

/** What the yaml package reads (as the validator reads configs), or undefined when it reports errors. */
function yamlData(text: string): unknown {
  const doc = parseDocument(text, YAML_READ_OPTIONS);
  return doc.errors.length > 0 ? undefined : (doc.toJS() ?? {});
}

function assertAgrees(text: string): void {
  const simple = parseSimpleYaml(text);
  if (simple === undefined) return; // giving up is always allowed
  assert.deepEqual(simple, yamlData(text), `the fast reader disagrees with yaml on:\n${text}`);
}

describe('simple YAML fast reader', () => {
  it('agrees with yaml on every fixture it reads, and reads the plain ones', () => {
    let read = 0;
    for (const folder of ['valid', 'invalid']) {
      for (const name of readdirSync(join(FIXTURES, folder)).filter((file) => file.endsWith('.yaml'))) {
        const text = readFileSync(join(FIXTURES, folder, name), 'utf8');
        assertAgrees(text);
        if (parseSimpleYaml(text) !== undefined) read++;
      }
    }
    assert.ok(read >= 10, `only ${read} fixtures were read by the fast reader`);
    assert.notEqual(parseSimpleYaml(readFileSync(join(FIXTURES, 'valid', 'full.yaml'), 'utf8')), undefined);
  });

  it('agrees with yaml on a generated 2,000-line config', () => {
    const text = generateConfig(2000);
    assert.notEqual(parseSimpleYaml(text), undefined);
    assertAgrees(text);
  });

  it('resolves plain scalars as YAML 1.1 does (the reference reads configs so)', () => {
    const scalars = [
      'true',
      'True',
      'TRUE',
      'yes',
      'Yes',
      'YES',
      'no',
      'No',
      'on',
      'On',
      'OFF',
      'off',
      'y',
      'N',
      'yES',
      '~',
      'null',
      'NULL',
      '0x1F',
      '+12',
      '-5',
      '1e3',
      '.5',
      '1.',
      '-.inf',
      '.NaN',
      '10.0.0.0/8',
      '2001-12-14',
      '"a\\"b"',
      '"tab\\tchar"',
      "'it''s'",
      '500m',
      '8Gi',
      '0 2 * * *',
      'http://x:80/a',
      'a#b',
      '-x',
      '"é ✓"',
    ];
    for (const scalar of scalars) {
      assert.notEqual(parseSimpleYaml(`key: ${scalar}\n`), undefined, `should read ${scalar}`);
      assertAgrees(`key: ${scalar}\n`);
      assertAgrees(`list:\n  - ${scalar}\n`);
    }
    assert.deepEqual(parseSimpleYaml('a: 0x1F\nb: yes\nc: ~\nd: off\ne: n\nf: 2001-12-14\n'), {
      a: 31,
      b: true,
      c: null,
      d: false,
      e: false,
      f: '2001-12-14',
    });
    // Where YAML 1.1 readers differ (octal, underscores, sexagesimal), the yaml package decides.
    for (const scalar of ['017', '0o17', '1_000', '12:30', '190:20:30', '0b101', '-0x1F', '.']) {
      assert.equal(parseSimpleYaml(`key: ${scalar}\n`), undefined, `should leave ${scalar} to yaml`);
    }
    // 12:30 stays a string and 2001-12-14 is no date: go-yaml v2, which the reference uses, reads them so.
    assert.deepEqual(yamlData('a: 12:30\nb: 2001-12-14\nc: 0755\n'), { a: '12:30', b: '2001-12-14', c: 493 });
  });

  it('reads compact lists, flow collections, comments and CRLF line ends like yaml', () => {
    const samples = [
      'a:\n- x\n- y\nb: 1\n',
      'a:\n  - id: x\n    env:\n    - p\n    other: 2\n  - id: y\n',
      'a: [x, "y, z", \'w\']  # comment\nb: { cpu: "4", memory: 8Gi }\nc: []\nd: {}\n',
      'a:\r\n  b: 1\r\n',
      '# only\n\nkey:   spaced value   \n',
      'a:\nb:\n  c:\n',
    ];
    for (const sample of samples) {
      assert.notEqual(parseSimpleYaml(sample), undefined, `should read:\n${sample}`);
      assertAgrees(sample);
    }
  });

  it('gives up on YAML features outside its subset and on anything suspicious', () => {
    const outside = [
      'a: &x 1\nb: *x\n',
      'a: !!str 1\n',
      'a: |\n  text\n',
      'a: >\n  text\n',
      'a: one\n  two\n',
      'a:\n\tb: 1\n',
      'a: 1\na: 2\n',
      '---\na: 1\n',
      'a: 1\n---\nb: 2\n',
      'a: [[1]]\n',
      'a: [1,\n  2]\n',
      '"quoted key": 1\n',
      '? complex\n: key\n',
      '- a\n',
      '  a: 1\n',
      'a: "unterminated\n',
      'a: b: c\n',
      '__proto__: {}\n',
      'null: 1\n',
      'a:\n  - - x\n',
      'a: "\\x41"\n',
      'a: [x, ]\n',
      'a: 1\rb: 2\n',
      'a: 1\u2028b: 2\n',
    ];
    for (const text of outside) assert.equal(parseSimpleYaml(text), undefined, `should give up on:\n${text}`);
  });

  describe("diagnostics from the fast reader's AST equal those from the yaml package", () => {
    /** One-line mutations of a config: typos in keys, bad values, deleted and re-indented lines. */
    function mutations(text: string): string[] {
      const lines = text.split('\n');
      return lines.flatMap((line, index) => {
        const replace = (replacement: string | undefined): string =>
          [...lines.slice(0, index), ...(replacement === undefined ? [] : [replacement]), ...lines.slice(index + 1)].join('\n');
        return [
          replace(undefined),
          replace(line.replace(/([a-z])([a-z_]*):/, '$1x$2:')),
          replace(line.replace(/: .*$/, ': BAD value')),
          replace(line.replace(/: .*$/, ': [a, b]')),
          replace(line.replace(/: .*$/, ': {}')),
          replace(`  ${line}`),
        ];
      });
    }

    function assertSamePaths(text: string): boolean {
      const fast = diagnoseWithSimpleReader(text);
      if (fast === undefined) return false;
      const full = diagnoseWithYamlPackage(text);
      const comparable = (check: ContentCheck) => ({ data: check.data, diagnostics: check.diagnostics, unmapped: check.unmapped ?? 0 });
      assert.deepEqual(comparable(fast), comparable(full), `paths disagree on:\n${text}`);
      return true;
    }

    for (const name of ['full.yaml', 'minimal-user-access.yaml']) {
      it(`on one-line mutations of ${name}`, () => {
        const variants = mutations(readFileSync(join(FIXTURES, 'valid', name), 'utf8'));
        const compared = variants.filter(assertSamePaths).length;
        assert.ok(compared > variants.length / 2, `only ${compared} of ${variants.length} variants took the fast path`);
      });
    }

    it('steps aside for diagnostics when comment lines end a section, still reading clean configs', () => {
      for (const body of ['    # deeper\n', '  # same column as the keys\n', '# top level\n', '# top\n    # deeper after top\n']) {
        const broken = `gitops:\n  manifest_projects:\n    - id: a/b\n${body}observability: {}\n`;
        assert.equal(diagnoseWithSimpleReader(broken), undefined, `yaml should place the diagnostics of:\n${broken}`);
        const clean = `flux:\n  webhook_receiver_url: https://x.example/hook\n${body}observability: {}\n`;
        assert.deepEqual(diagnoseWithSimpleReader(clean)?.diagnostics, [], `the fast path should accept:\n${clean}`);
      }
    });

    it('on the invalid fixtures the fast reader can read', () => {
      const names = readdirSync(join(FIXTURES, 'invalid')).filter((file) => file.endsWith('.yaml'));
      const compared = names.filter((name) => assertSamePaths(readFileSync(join(FIXTURES, 'invalid', name), 'utf8'))).length;
      assert.ok(compared >= 6, `only ${compared} invalid fixtures took the fast path`);
    });
  });
});
