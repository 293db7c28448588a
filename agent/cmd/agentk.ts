// Entry point of `agentk` (placeholder until its feature lands).
import { parseCommandLine, runMain } from '../internal/cli';

runMain(async () => {
  parseCommandLine({ name: 'agentk', summary: 'not built yet', usage: 'agentk', options: {}, help: {} }, process.argv.slice(2));
  throw new Error('agentk is not built yet');
});
