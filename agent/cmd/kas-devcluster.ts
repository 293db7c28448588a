// Entry point of `kas-devcluster` (placeholder until its feature lands).
import { parseCommandLine, runMain } from '../internal/cli';

runMain(async () => {
  parseCommandLine({ name: 'kas-devcluster', summary: 'not built yet', usage: 'kas-devcluster', options: {}, help: {} }, process.argv.slice(2));
  throw new Error('kas-devcluster is not built yet');
});
