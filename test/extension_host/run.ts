// Runs test/extension_host/suite.ts inside a desktop VS Code with @vscode/test-electron. No
// download is attempted: the VS Code to use comes from VSCODE_EXECUTABLE_PATH (e.g.
// /usr/share/code/code or "/Applications/Visual Studio Code.app/Contents/MacOS/Electron").
// Without it the run is skipped with a message. Usage: npx tsx test/extension_host/run.ts
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { runTests } from '@vscode/test-electron';

const REPO = resolve(__dirname, '..', '..');

/** Resolves 'skipped' when no desktop VS Code is configured. */
export async function runExtensionHostTests(): Promise<'passed' | 'skipped'> {
  const vscodeExecutablePath = process.env.VSCODE_EXECUTABLE_PATH;
  if (!vscodeExecutablePath) {
    console.log('extension-host tests skipped: set VSCODE_EXECUTABLE_PATH to a desktop VS Code executable to run them');
    return 'skipped';
  }
  if (!existsSync(vscodeExecutablePath)) throw new Error(`VSCODE_EXECUTABLE_PATH does not exist: ${vscodeExecutablePath}`);
  const work = await mkdtemp(join(tmpdir(), 'ext-host-'));
  try {
    // The host loads CommonJS; bundle the suite (vscode stays external).
    const suite = join(work, 'suite.js');
    await build({
      entryPoints: [join(__dirname, 'suite.ts')],
      outfile: suite,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      external: ['vscode'],
      logLevel: 'warning',
    });
    await build({
      entryPoints: [join(REPO, 'extension', 'src', 'extension.ts')],
      outfile: join(REPO, 'dist', 'extension.js'),
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      external: ['vscode'],
      logLevel: 'warning',
    });
    const exitCode = await runTests({
      vscodeExecutablePath,
      extensionDevelopmentPath: REPO,
      extensionTestsPath: suite,
      launchArgs: [
        '--disable-extensions',
        '--disable-workspace-trust',
        '--user-data-dir',
        join(work, 'user-data'),
        join(work, 'workspace'),
      ],
    });
    if (exitCode !== 0) throw new Error(`extension-host tests failed (exit code ${exitCode})`);
    return 'passed';
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  runExtensionHostTests().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
