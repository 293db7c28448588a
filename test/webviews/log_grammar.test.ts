// The log TextMate grammar (syntaxes/workbench-log.tmLanguage.json), run through the real
// TextMate engine VS Code uses (vscode-textmate with the Oniguruma WebAssembly build).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as textmate from 'vscode-textmate';
import {
  createLogHighlighter,
  LOG_GRAMMAR_SCOPE as SCOPE,
  MAX_HIGHLIGHT_LENGTH,
  type LogHighlighter,
  type LogSpan,
} from '../../webviews/logview/highlight';

const ROOT = join(__dirname, '..', '..');

/** Loads the highlighter as the log view does, from the files the build ships. */
async function loadHighlighter(): Promise<LogHighlighter> {
  const wasm = await readFile(join(ROOT, 'node_modules', 'vscode-oniguruma', 'release', 'onig.wasm'));
  const grammar: unknown = JSON.parse(await readFile(join(ROOT, 'syntaxes', 'workbench-log.tmLanguage.json'), 'utf8'));
  return createLogHighlighter(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength), grammar);
}

describe('log grammar (TextMate)', () => {
  let highlighter: LogHighlighter;
  let grammar: textmate.IGrammar;

  before(async () => {
    highlighter = await loadHighlighter();
    grammar = highlighter.grammar;
  });

  /** The scopes of the token where `fragment` starts on `line` (tokenized on its own). */
  function scopesOf(line: string, fragment: string): string[] {
    const at = line.indexOf(fragment);
    assert.notEqual(at, -1, `"${fragment}" is not in the line`);
    const { tokens } = grammar.tokenizeLine(line, textmate.INITIAL);
    const token = tokens.find((candidate) => candidate.startIndex <= at && at < candidate.endIndex);
    return token?.scopes ?? [];
  }

  function assertScope(line: string, fragment: string, scopePrefix: string): void {
    const scopes = scopesOf(line, fragment);
    assert.ok(
      scopes.some((scope) => scope.startsWith(scopePrefix)),
      `"${fragment}" in ${line}\nhas ${scopes.join(' ')}, wanted ${scopePrefix}`,
    );
  }

  function assertNoScope(line: string, fragment: string, scopePrefix: string): void {
    const scopes = scopesOf(line, fragment);
    assert.ok(!scopes.some((scope) => scope.startsWith(scopePrefix)), `"${fragment}" should not be ${scopePrefix}: ${scopes.join(' ')}`);
  }

  describe('kas/agentk JSON lines', () => {
    const line =
      '{"time":"2026-11-21T09:25:01.123Z","level":"error","msg":"tunnel closed","agent_id":42,"retry":true,"mod":{"name":"reverse_tunnel"}}';

    it('colours the level value by severity', () => {
      assertScope(line, 'error"', 'markup.deleted.log.level.error');
      assertScope(line.replace('"error"', '"warn"'), 'warn"', 'markup.changed.log.level.warn');
      assertScope(line.replace('"error"', '"info"'), 'info"', 'markup.inserted.log.level.info');
      assertScope(line.replace('"error"', '"debug"'), 'debug"', 'comment.log.level.debug');
    });

    it('marks the time, the message, keys and typed values', () => {
      assertScope(line, '"2026-11-21', 'constant.numeric.date.log');
      assertScope(line, '"tunnel closed"', 'string.quoted.double.log.message');
      assertScope(line, '"agent_id"', 'support.type.property-name.log');
      assertScope(line, '42', 'constant.numeric.log');
      assertScope(line, 'true', 'constant.language.log');
      assertScope(line, '"name"', 'support.type.property-name.log');
      assertScope(line, '"reverse_tunnel"', 'string.quoted.double.log');
    });

    it('reads a JSON line behind the time Kubernetes adds with --timestamps', () => {
      const stamped = '2026-11-21T09:25:01.123456789Z {"time":"2026-11-21T09:25:01Z","level":"warn","msg":"slow"}';
      assertScope(stamped, '2026-11-21T09:25:01.123456789Z', 'constant.numeric.date.log');
      assertScope(stamped, 'warn"', 'markup.changed.log.level.warn');
      assertScope(stamped, '"slow"', 'string.quoted.double.log.message');
    });

    it('does not take a message that mentions "error" for an error level', () => {
      const info = '{"time":"2026-11-21T09:25:01Z","level":"info","msg":"recovered from error"}';
      assertNoScope(info, 'error"}', 'markup.deleted');
    });
  });

  describe('plain and klog lines', () => {
    it('marks RFC 3339 timestamps and level words', () => {
      const line = '2026-11-21T09:25:01.5+01:00 WARN agentk: lease lost, retrying';
      assertScope(line, '2026-11-21', 'constant.numeric.date.log');
      assertScope(line, 'WARN', 'markup.changed.log.level.warn');
      assertScope('2026-11-21 09:25:01 ERROR boom', 'ERROR', 'markup.deleted.log.level.error');
      assertScope('2026-11-21 09:25:01 INFO ok', 'INFO', 'markup.inserted.log.level.info');
      assertScope('2026-11-21 09:25:01 DEBUG detail', 'DEBUG', 'comment.log.level.debug');
    });

    it('reads logfmt level=... and key=value', () => {
      const line = 'ts=2026-11-21T09:25:01Z level=error component=kas msg="redis down"';
      assertScope(line, 'error', 'markup.deleted.log.level.error');
      assertScope(line, 'component', 'support.type.property-name.log');
      assertScope(line, '"redis down"', 'string.quoted.double.log');
    });

    it('splits klog prefixes into level, time, thread and source', () => {
      const line = 'E1121 09:15:03.123456   12345 reflector.go:123] failed to list *v1.Pod';
      assertScope(line, 'E1121', 'markup.deleted.log.level.error');
      assertScope(line, '1121 09:15', 'constant.numeric.date.log');
      assertScope(line, 'reflector.go:123', 'entity.name.section.log.source');
      assertScope(line.replace(/^E/, 'W'), 'W1121', 'markup.changed.log.level.warn');
      assertScope(line.replace(/^E/, 'I'), 'I1121', 'markup.inserted.log.level.info');
    });
  });

  describe('helm output', () => {
    it('marks release results, errors and status fields', () => {
      assertScope('Release "ingress" has been upgraded. Happy Helming!', 'has been upgraded', 'markup.inserted.log.level.info');
      assertScope('Release "ingress" has been upgraded. Happy Helming!', '"ingress"', 'string.quoted.double.log');
      assertScope('Error: UPGRADE FAILED: timed out waiting for the condition', 'UPGRADE', 'markup.deleted.log.level.error');
      assertScope('STATUS: deployed', 'deployed', 'markup.inserted.log.level.info');
      assertScope('STATUS: failed', 'failed', 'markup.deleted.log.level.error');
      assertScope('STATUS: pending-upgrade', 'pending-upgrade', 'markup.changed.log.level.warn');
      assertScope('STATUS: deployed', 'STATUS', 'keyword.other.log.helm.field');
      assertScope('LAST DEPLOYED: Sat Nov 21 09:25:01 2026', 'Sat Nov', 'constant.numeric.date.log');
    });

    it('leaves ordinary text unscoped beyond the grammar root', () => {
      assert.deepEqual(scopesOf('just some words', 'some'), [SCOPE]);
    });
  });
  describe('log view classes (the spans webviews/logview/main.ts renders)', () => {
    /** The class of the span holding `fragment` (which must lie within one span). */
    function classOf(line: string, fragment: string): string | undefined {
      const spans = highlighter.spans(line);
      assert.equal(spans.map((span) => span.text).join(''), line, 'spans must cover the line exactly, in order');
      let offset = 0;
      const at = line.indexOf(fragment);
      assert.notEqual(at, -1, `"${fragment}" is not in the line`);
      for (const span of spans) {
        if (at >= offset && at + fragment.length <= offset + span.text.length) return span.className;
        offset += span.text.length;
      }
      assert.fail(`"${fragment}" spans more than one token: ${JSON.stringify(spans)}`);
    }

    it('colours a kas/agentk JSON line: level by severity, time, message, keys and values', () => {
      const line =
        '{"time":"2026-11-21T09:25:01.123Z","level":"error","msg":"tunnel closed","agent_id":42,"retry":true,"mod":{"name":"reverse_tunnel"}}';
      assert.equal(classOf(line, 'error'), 'level-error');
      assert.equal(classOf(line.replace('"error"', '"warn"'), 'warn'), 'level-warn');
      assert.equal(classOf(line.replace('"error"', '"info"'), 'info'), 'level-info');
      assert.equal(classOf(line.replace('"error"', '"debug"'), 'debug'), 'level-debug');
      assert.equal(classOf(line, '"2026-11-21T09:25:01.123Z"'), 'log-date');
      assert.equal(classOf(line, '"tunnel closed"'), 'log-message');
      assert.equal(classOf(line, '"agent_id"'), 'log-key');
      assert.equal(classOf(line, '42'), 'log-number');
      assert.equal(classOf(line, 'true'), 'log-constant');
      assert.equal(classOf(line, '"reverse_tunnel"'), 'log-string');
      assert.equal(classOf(line, '{'), undefined, 'punctuation stays plain');
    });

    it('colours an agentk line behind a Kubernetes --timestamps time, and plain level words', () => {
      const stamped = '2026-11-21T09:25:01.123456789Z {"time":"2026-11-21T09:25:01Z","level":"warn","msg":"slow"}';
      assert.equal(classOf(stamped, '2026-11-21T09:25:01.123456789Z'), 'log-date');
      assert.equal(classOf(stamped, 'warn'), 'level-warn');
      // What the sim pods in the UI tests print: the level word must be a span of its own.
      assert.deepEqual(highlighter.spans('INFO hello from ui 3'), [
        { text: 'INFO', className: 'level-info' },
        { text: ' hello from ui 3' },
      ]);
    });

    it('colours helm install output: release result, errors, status and fields', () => {
      const release = 'Release "crossplane" has been upgraded. Happy Helming!';
      assert.equal(classOf(release, 'Release'), 'log-keyword');
      assert.equal(classOf(release, '"crossplane"'), 'log-string');
      assert.equal(classOf(release, 'has been upgraded. Happy Helming!'), 'level-info');
      assert.deepEqual(
        highlighter.spans('Error: UPGRADE FAILED: timed out waiting for the condition'),
        [{ text: 'Error: UPGRADE FAILED: timed out waiting for the condition', className: 'level-error' }],
        'one span for the whole error line (same-class neighbours merged)',
      );
      assert.equal(classOf('STATUS: deployed', 'STATUS'), 'log-keyword');
      assert.equal(classOf('STATUS: deployed', 'deployed'), 'level-info');
      assert.equal(classOf('STATUS: failed', 'failed'), 'level-error');
      assert.equal(classOf('STATUS: pending-install', 'pending-install'), 'level-warn');
      assert.equal(classOf('LAST DEPLOYED: Sat Nov 21 09:25:01 2026', 'Sat Nov 21 09:25:01 2026'), 'log-date');
    });

    it('colours klog lines: level letter, time, thread and source', () => {
      const line = 'W1121 09:15:03.123456   777 reflector.go:123] watch closed';
      assert.equal(classOf(line, 'W'), 'level-warn');
      assert.equal(classOf(line, '1121 09:15:03.123456'), 'log-date');
      assert.equal(classOf(line, '777'), 'log-number');
      assert.equal(classOf(line, 'reflector.go:123'), 'log-source');
    });

    it('leaves ordinary text, empty lines and very long lines plain', () => {
      assert.deepEqual(highlighter.spans('just some words'), [{ text: 'just some words' }]);
      assert.deepEqual(highlighter.spans(''), []);
      const long = `ERROR ${'x'.repeat(MAX_HIGHLIGHT_LENGTH)}`;
      assert.deepEqual(highlighter.spans(long), [{ text: long }]);
    });

    it('says when tokenizing stopped at its time limit, and still covers the whole line', () => {
      const fields = Array.from({ length: 900 }, (_, n) => `"k${n}":${n}`).join(',');
      const line = `{${fields},"level":"warn"}`;
      const cut = highlighter.highlight(line, 1);
      assert.equal(cut.stoppedEarly, true, 'a 1 ms limit stops a 9,700-character line early');
      assert.equal(cut.spans.map((span) => span.text).join(''), line, 'the plain tail is kept');
      const full = highlighter.highlight(line, 60_000);
      assert.equal(full.stoppedEarly, false);
      assert.equal(full.spans.at(-2)?.className, 'level-warn', 'with time enough the level at the end is coloured');
    });

    it('covers lines with multi-byte text exactly (UTF-16 offsets)', () => {
      const line = '{"level":"info","msg":"déployé ✓ 🚀","n":1}';
      const spans: LogSpan[] = highlighter.spans(line);
      assert.equal(spans.map((span) => span.text).join(''), line);
      assert.equal(classOf(line, '"déployé ✓ 🚀"'), 'log-message');
      assert.equal(classOf(line, '1'), 'log-number');
    });
  });
});
