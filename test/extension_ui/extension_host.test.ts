// The @vscode/test-electron run, for machines with a desktop VS Code (VSCODE_EXECUTABLE_PATH).
import { runExtensionHostTests } from '../extension_host/run';

describe('extension in a desktop VS Code (@vscode/test-electron)', () => {
  it('activates from its view and registers every command', async function () {
    this.timeout(300_000);
    if (!process.env.VSCODE_EXECUTABLE_PATH) this.skip(); // no desktop VS Code here: see README
    await runExtensionHostTests();
  });
});
