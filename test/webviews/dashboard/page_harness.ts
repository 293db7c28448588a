// The built dashboard page (dist/webviews/dashboard.js) in Debian's chromium (playwright-core),
// served as VS Code serves a webview: the page from dashboardHtml under its real Content
// Security Policy, the script from the same origin as its cspSource. Stands in for the webview
// host only: acquireVsCodeApi (what the page posts lands in window.__posted) and some theme
// colours; CSP violations are collected in window.__violations. Shared by the page tests and
// the render benchmark (bench/dashboard.bench.ts).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { dashboardHtml } from '../../../extension/src/dashboard/dashboard_html';
import type { ExtensionToWebview } from '../../../webviews/dashboard/messages';

const REPO = resolve(__dirname, '..', '..', '..');
const SCRIPT = join(REPO, 'dist', 'webviews', 'dashboard.js');
export const OUTPUT_DIR = join(REPO, '.test-output', 'ui');
const NONCE = 'DASHBOARDNONCE';

const THEME: Record<string, string> = {
  'editor-background': '#1f1f1f',
  'editor-foreground': '#cccccc',
  errorForeground: '#f85149',
  'editorWarning-foreground': '#cca700',
  descriptionForeground: '#9d9d9d',
  'panel-border': '#2b2b2b',
  'button-background': '#0078d4',
  'button-foreground': '#ffffff',
  'charts-blue': '#3794ff',
  'charts-red': '#f14c4c',
  'debugTokenExpression-name': '#c586c0',
  'debugTokenExpression-string': '#ce9178',
  'debugTokenExpression-number': '#b5cea8',
  'debugTokenExpression-boolean': '#4e94ce',
};
const FAKE_VSCODE_HOST = `window.__posted = []; window.__violations = [];
  window.acquireVsCodeApi = () => ({ postMessage: (m) => window.__posted.push(m) });
  document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
  document.addEventListener('DOMContentLoaded', () => {
    for (const [name, value] of Object.entries(${JSON.stringify(THEME)})) document.documentElement.style.setProperty('--vscode-' + name, value);
  });`;

export interface DashboardPage {
  page: Page;
  /** Delivers messages as VS Code does (window message events), in order. */
  post(...messages: ExtensionToWebview[]): Promise<void>;
  /** What the page posted to the extension so far. */
  posted(): Promise<Array<{ type: string } & Record<string, unknown>>>;
  violations(): Promise<string[]>;
  close(): Promise<void>;
}

export async function openDashboardPage(viewport = { width: 1400, height: 800 }): Promise<DashboardPage> {
  if (!existsSync(SCRIPT)) throw new Error('dist/webviews/dashboard.js is not built: run node esbuild.mjs (npm test builds it first)');
  const server = await serve();
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    const page = await browser.newPage({ viewport });
    await page.addInitScript(FAKE_VSCODE_HOST);
    await page.goto(server.url);
    await page.waitForFunction(() => (window as unknown as { __posted: { type: string }[] }).__posted.some((m) => m.type === 'ready'));
    const opened = browser;
    return {
      page,
      post: async (...messages) => {
        await page.evaluate((all) => {
          for (const data of all) window.dispatchEvent(new MessageEvent('message', { data }));
        }, messages);
      },
      posted: () => page.evaluate(() => (window as unknown as { __posted: Array<{ type: string }> }).__posted) as never,
      violations: () => page.evaluate(() => (window as unknown as { __violations: string[] }).__violations),
      close: async () => {
        await opened.close();
        await new Promise((done) => server.server.close(done));
      },
    };
  } catch (error) {
    await browser?.close();
    await new Promise((done) => server.server.close(done));
    throw error;
  }
}

async function serve(): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    void (async () => {
      const origin = `http://${request.headers.host ?? ''}`;
      if (request.url === '/') {
        response.writeHead(200, { 'content-type': 'text/html' });
        response.end(dashboardHtml(origin, NONCE, `${origin}/webviews/dashboard.js`));
      } else if (request.url === '/webviews/dashboard.js') {
        response.writeHead(200, { 'content-type': 'text/javascript' }).end(await readFile(SCRIPT));
      } else response.writeHead(404).end();
    })().catch(() => response.writeHead(500).end());
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}
