// Builds every bundle: the extension (CommonJS, `vscode` external), the agent-side command-line
// programs (kas, agentk, kas-devcluster, the local pair) and the webview scripts (browser IIFE).
// Usage: node esbuild.mjs [--watch] [--production]
import * as esbuild from 'esbuild';
import { cpSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');
const outdir = 'dist';

const common = {
  bundle: true,
  sourcemap: production ? false : 'linked',
  minify: production,
  logLevel: 'info',
  legalComments: 'none',
};

/** Node programs started from the command line (package.json `bin`) and by the extension. */
const agentPrograms = {
  kas: 'agent/cmd/kas.ts',
  agentk: 'agent/cmd/agentk.ts',
  'kas-devcluster': 'agent/cmd/kas-devcluster.ts',
  'local-pair': 'agent/cmd/local-pair.ts',
};

const builds = [
  {
    ...common,
    entryPoints: { extension: 'extension/src/extension.ts' },
    outdir,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
  },
  {
    ...common,
    entryPoints: agentPrograms,
    outdir,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
  },
  {
    ...common,
    entryPoints: { 'webviews/logview': 'webviews/logview/main.ts' },
    outdir,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
];

/** Files read at run time next to the bundles (protocol definitions, schemas, data). */
function copyAssets() {
  const assetExt = /\.(proto|json|yaml)$/;
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (assetExt.test(name) && path.includes('assets')) {
        const target = join(outdir, path);
        mkdirSync(dirname(target), { recursive: true });
        cpSync(path, target);
      }
    }
  };
  walk('agent');
}

copyAssets();
if (watch) {
  const contexts = await Promise.all(builds.map((b) => esbuild.context(b)));
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
