// Entry point of `kas` (placeholder until its feature lands).
import { parseCommandLine, runMain } from '../internal/cli';

runMain(async () => {
  parseCommandLine({ name: 'kas', summary: 'not built yet', usage: 'kas', options: {}, help: {} }, process.argv.slice(2));
  throw new Error('kas is not built yet');
});
