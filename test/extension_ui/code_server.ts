// A real VS Code for tests: code-server (installed by scripts/setup_code_server.sh) with a fresh
// user-data and extensions directory, the packaged .vsix installed, driven through headless
// Debian chromium by playwright-core. Everything started here is stopped by stop(); a suite gets
// its whole lifecycle from useCodeServer().
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { WATCHDOG_SOURCE } from './watchdog';

const run = promisify(execFile);
export const REPO = resolve(__dirname, '..', '..');
export const OUTPUT_DIR = join(REPO, '.test-output', 'ui');
const VSIX = join(REPO, 'dist', 'kubernetes-agent-workbench.vsix');
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface CodeServer {
  page: Page;
  workspace: string;
  userData: string;
  /** Everything the code-server process printed (for failure messages). */
  log(): string;
  screenshot(name: string): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** Builds the .vsix exactly as users get it, and installs code-server (idempotent). */
async function prepareArtifacts(): Promise<string> {
  await run('npm', ['run', 'package'], { cwd: REPO, maxBuffer: 16 * 1024 * 1024 });
  const { stdout } = await run('bash', [join(REPO, 'scripts', 'setup_code_server.sh')], { cwd: REPO, maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim().split('\n').pop()!;
}

async function waitForHttp(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`code-server exited with ${child.exitCode}`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`code-server did not answer at ${url}`);
}

interface StartOptions {
  workspaceFiles?: Record<string, string>;
  env?: NodeJS.ProcessEnv;
}

async function startCodeServer(entry: string, { workspaceFiles = {}, env = {} }: StartOptions): Promise<CodeServer> {
  const root = await mkdtemp(join(tmpdir(), 'ui-code-server-'));
  const userData = join(root, 'user-data');
  const extensions = join(root, 'extensions');
  const workspace = join(root, 'workspace');
  await mkdir(join(userData, 'User'), { recursive: true });
  await mkdir(workspace, { recursive: true });
  for (const [name, content] of Object.entries(workspaceFiles)) {
    await mkdir(join(workspace, name, '..'), { recursive: true });
    await writeFile(join(workspace, name), content);
  }
  // Without this the workspace opens restricted and the extension may stay disabled.
  await writeFile(
    join(userData, 'User', 'settings.json'),
    JSON.stringify({
      'security.workspace.trust.enabled': false,
      'workbench.startupEditor': 'none',
      'workbench.tips.enabled': false,
      'extensions.autoCheckUpdates': false,
      'telemetry.telemetryLevel': 'off',
      // Tooltips that pop up under the pointer would swallow the test's clicks on tree rows.
      'workbench.hover.delay': 600_000,
      'editor.hover.delay': 600_000,
      // The DOM renderer, so a terminal's text can be read from the page (the GPU one draws it),
      // set before start: a settings change after the window opened may come too late for it.
      'terminal.integrated.gpuAcceleration': 'off',
    }),
  );
  const common = ['--user-data-dir', userData, '--extensions-dir', extensions];
  await run(process.execPath, [entry, ...common, '--install-extension', VSIX], { maxBuffer: 16 * 1024 * 1024 });

  const port = await freePort();
  let output = '';
  // Through a watchdog, so that code-server (and what it started) ends even if mocha crashes.
  const child = spawn(
    process.execPath,
    [
      '-e',
      WATCHDOG_SOURCE,
      String(process.pid),
      root,
      process.execPath,
      entry,
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--auth',
      'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      ...common,
      workspace,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env, ELECTRON_RUN_AS_NODE: undefined },
    },
  );
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  let browser: Browser | undefined;
  const stop = async () => {
    await browser?.close().catch(() => undefined);
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await killLeftovers(root);
    await rm(root, { recursive: true, force: true, maxRetries: 10 }); // a killed leftover may still be writing there
  };
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/healthz`, child, 60_000);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${base}/?folder=${encodeURIComponent(workspace)}`);
    await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    await mkdir(OUTPUT_DIR, { recursive: true });
    return {
      page,
      workspace,
      userData,
      log: () => output,
      screenshot: async (name) => void (await page.screenshot({ path: join(OUTPUT_DIR, `${name}.png`) })),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** What a suite's code-server hooks give its tests (read in tests and hooks, once `before` ran). */
export interface CodeServerSuite {
  readonly vscode: CodeServer;
  /** A scratch folder of the suite's own, removed after it. */
  readonly dir: string;
  /** The kubeconfig of the local pair's dev cluster, written once Start Local Pair ran. */
  readonly localPairKubeconfig: string;
}

export interface CodeServerSuiteOptions {
  workspaceFiles?: Record<string, string>;
  /** More environment for code-server and so the extension host, given the suite's scratch folder. */
  env?: (dir: string) => NodeJS.ProcessEnv;
  /** Runs Stop Local Pair before code-server stops, for a suite that started the pair and checks it ends cleanly. */
  stopLocalPair?: boolean;
}

/**
 * Registers, in the describe body that calls it, the hooks of a suite driving one code-server: before,
 * the .vsix built and code-server started with a scratch folder; after a failed test, a screenshot
 * `failed-<title>.png` and the Agents view's rows printed; after, all of it stopped and removed.
 * Hooks a suite registers before this call run before these (after hooks too).
 */
export function useCodeServer(options: CodeServerSuiteOptions = {}): CodeServerSuite {
  let vscode: CodeServer | undefined;
  let dir: string | undefined;
  before(async function () {
    this.timeout(900_000); // builds the .vsix; a fresh machine installs code-server too (about a minute)
    dir = await mkdtemp(join(tmpdir(), 'ui-suite-'));
    vscode = await startCodeServer(await prepareArtifacts(), { workspaceFiles: options.workspaceFiles, env: options.env?.(dir) });
  });
  afterEach(async function () {
    if (this.currentTest?.state !== 'failed' || !vscode) return;
    await vscode.screenshot(`failed-${this.currentTest.title.replace(/\W+/g, '-')}`).catch(() => undefined);
    console.log(`Agents view when it failed:\n${await treeRows(agentsPane(vscode.page)).catch(String)}`);
  });
  after(async () => {
    if (vscode && options.stopLocalPair) await runCommand(vscode.page, 'Kubernetes Agents: Stop Local Pair').catch(() => undefined);
    await vscode?.stop();
    if (dir) await rm(dir, { recursive: true, force: true, maxRetries: 10 });
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('code-server is not started: read the suite in a test or hook, after its before hook');
    return value;
  };
  return {
    get vscode() {
      return started(vscode);
    },
    get dir() {
      return started(dir);
    },
    get localPairKubeconfig() {
      return join(
        started(vscode).userData,
        'User',
        'globalStorage',
        'agent-workbench.kubernetes-agent-workbench',
        'local-pair',
        'kubeconfig',
      );
    },
  };
}

/** Opens the Kubernetes Agents container in the activity bar (clicking again would hide it). */
export async function openAgentsContainer(page: Page): Promise<void> {
  const header = page.locator('.pane-header[aria-label^="Agents"], .pane-header:has-text("Agents")').first();
  if (await header.isVisible()) return;
  await page
    .locator('.activitybar .action-item a[aria-label^="Kubernetes Agents"], .activitybar .action-item[aria-label^="Kubernetes Agents"]')
    .first()
    .click({ timeout: 60_000 });
  await header.waitFor({ timeout: 30_000 });
}

/** The Agents view (the Managed Apps view lists the same agents: rows must be looked for in one view). */
export function agentsPane(page: Page): Locator {
  return page.locator('.pane').filter({ has: page.locator('.pane-header', { hasText: /^\s*agents/i }) });
}

/**
 * Expands a tree row and waits until it says so. A click toggles, and a click that lands while the
 * tree re-renders (every cache change refreshes it) can be lost: it clicks again until expanded.
 */
export async function expandRow(row: Locator, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await row.waitFor({ timeout: timeoutMs });
  while ((await row.getAttribute('aria-expanded', { timeout: timeoutMs })) !== 'true') {
    if (Date.now() > deadline) throw new Error(`row ${await row.textContent()} did not expand within ${timeoutMs} ms`);
    await row.click({ timeout: Math.max(1, deadline - Date.now()) });
    await row
      .and(row.page().locator('[aria-expanded="true"]'))
      .waitFor({ timeout: 2_000 })
      .catch(() => undefined);
  }
}

/** The rendered rows of a tree pane, one line each with depth and label, for a failure's message. */
export async function treeRows(pane: Locator): Promise<string> {
  const rows = await pane
    .locator('.monaco-list-row')
    .evaluateAll((elements) =>
      elements.map(
        (e) => `${'  '.repeat(Number(e.getAttribute('aria-level') ?? 1) - 1)}${e.getAttribute('aria-label') ?? e.textContent ?? ''}`,
      ),
    );
  return rows.join('\n');
}

/** The Agents view's welcome (no connection yet); the Managed Apps view has a welcome with the same buttons. */
export function agentsWelcome(page: Page): Locator {
  return page.locator('.welcome-view-content', { hasText: 'No connection to kas yet' });
}

/** Waits for the quick input titled `title` (steps reuse one widget), types and confirms. */
export async function answerInput(page: Page, title: string, text: string): Promise<void> {
  await page.locator('.quick-input-widget .quick-input-title', { hasText: title }).waitFor({ state: 'visible', timeout: 30_000 });
  const input = page.locator('.quick-input-widget input.input');
  await input.fill(text);
  await input.press('Enter');
}

/** Every file under `dir` whose path contains `fragment`, with its text. */
export async function readFilesMatching(dir: string, fragment: string): Promise<{ path: string; text: string }[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .filter((p) => p.includes(fragment));
  return Promise.all(files.map(async (path) => ({ path, text: await readFile(path, 'utf8') })));
}

/**
 * Processes the extension started under this code-server (the local pair, whose arguments name
 * a folder under `root`) that outlived it: ended by pid. Only ours match, as `root` is unique.
 */
async function killLeftovers(root: string): Promise<void> {
  for (const pid of await processesMentioning(root)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Runs a command from the command palette by its full title ("Category: Title"). */
export async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input.input');
  await input.waitFor({ state: 'visible', timeout: 30_000 });
  await input.fill(`>${title}`);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first().waitFor({ timeout: 30_000 });
  await input.press('Enter');
}

/** Opens a workspace file by name through Quick Open. */
export async function openFile(page: Page, name: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input.input');
  await input.waitFor({ state: 'visible', timeout: 30_000 });
  await input.fill(name);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: name }).first().waitFor({ timeout: 30_000 });
  await input.press('Enter');
}

/** Pids of live processes whose command line contains `text`. */
export async function processesMentioning(text: string): Promise<number[]> {
  const pids: number[] = [];
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(text)) pids.push(Number(pid));
  }
  return pids;
}
