// The log view page with highlighting on: the Content Security Policy grants exactly what the
// TextMate engine needs (WebAssembly compilation, fetching onig.wasm from the extension's own
// files) and nothing more, and the stylesheet colours every class the highlighter produces.
import assert from 'node:assert/strict';
import { logViewHtml } from '../../extension/src/logs/log_view_html';
import { LOG_TOKEN_CLASSES } from '../../webviews/logview/highlight';

const CSP_SOURCE = 'https://file+.vscode-resource.vscode-cdn.net';
const WASM = `${CSP_SOURCE}/ext/dist/webviews/onig.wasm`;

function cspOf(html: string): Map<string, string[]> {
  const policy = /Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1] ?? '';
  const directives = policy
    .split(';')
    .map((part) => part.trim().split(/\s+/))
    .filter((words) => words[0] !== '');
  return new Map(directives.map(([name, ...values]) => [name!, values]));
}

describe('log view page with highlighting', () => {
  const html = logViewHtml(CSP_SOURCE, 'NONCE123', `${CSP_SOURCE}/ext/dist/webviews/logview.js`, WASM);

  it('allows WebAssembly compilation but no JavaScript eval and nothing inline', () => {
    const csp = cspOf(html);
    assert.deepEqual(csp.get('script-src'), ["'nonce-NONCE123'", "'wasm-unsafe-eval'"]);
    assert.deepEqual(csp.get('style-src'), ["'nonce-NONCE123'"]);
    assert.deepEqual(csp.get('default-src'), ["'none'"]);
    assert.ok(!/'unsafe-(eval|inline)'/.test(html), 'no unsafe-eval or unsafe-inline');
  });

  it("may fetch only from the extension's resources, and tells the script where onig.wasm is", () => {
    assert.deepEqual(cspOf(html).get('connect-src'), [CSP_SOURCE]);
    assert.match(html, new RegExp(`<body data-onig-wasm="${WASM.replace(/[.+]/g, '\\$&')}">`));
  });

  it('asks for no WebAssembly or fetch grant when highlighting is off', () => {
    const plain = logViewHtml(CSP_SOURCE, 'NONCE123', `${CSP_SOURCE}/logview.js`);
    assert.ok(!plain.includes('wasm-unsafe-eval') && !plain.includes('connect-src') && !plain.includes('data-onig-wasm'));
  });

  it('has a theme-coloured rule for every class the highlighter gives', () => {
    assert.ok(LOG_TOKEN_CLASSES.length >= 10);
    for (const className of LOG_TOKEN_CLASSES) {
      assert.match(html, new RegExp(`span\\.${className} \\{ color: var\\(--vscode-`), `no rule for ${className}`);
    }
  });

  it('keeps a quote in a resource URI from ending the attribute', () => {
    const odd = logViewHtml(CSP_SOURCE, 'N', 'x.js', 'https://h/a"b<c&d');
    assert.ok(odd.includes('data-onig-wasm="https://h/a&quot;b&lt;c&amp;d"'));
  });
});
