// Entry point of `local-pair` (placeholder until its feature lands).
import { parseCommandLine, runMain } from '../internal/cli';

runMain(async () => {
  parseCommandLine({ name: 'local-pair', summary: 'not built yet', usage: 'local-pair', options: {}, help: {} }, process.argv.slice(2));
  throw new Error('local-pair is not built yet');
});
