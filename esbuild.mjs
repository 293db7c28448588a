// Builds every bundle: the extension (CommonJS, `vscode` external; its Kubernetes layer a second
// bundle loaded on first cluster use), the agent-side command-line
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
  'kas-devcluster': 'agent/cmd/kas_devcluster.ts',
  'local-pair': 'agent/cmd/local_pair.ts',
};

/**
 * The extension's Kubernetes layer (@kubernetes/client-node) is a bundle of its own,
 * dist/extension-kube.js: kube/load.ts imports it on first cluster use, so activation neither
 * parses nor initialises client-node. This maps that one import onto the bundle file.
 */
const kubeLayerAsSeparateBundle = {
  name: 'kube-layer-as-separate-bundle',
  setup(build) {
    build.onResolve({ filter: /^\.\/layer$/ }, (args) =>
      args.importer.replaceAll('\\', '/').endsWith('extension/src/kube/load.ts')
        ? { path: './extension-kube.js', external: true }
        : undefined,
    );
  },
};

/**
 * agentk needs only client-node's KubeConfig (dist/config.js), but that file imports the generated
 * API's index (every model and API class, ~300 KiB minified) for two names used by makeApiClient,
 * which agentk never calls. Resolving that one import to the two files that define them keeps the
 * generated API out of the agent programs: about 12 MiB less RSS at start (BENCHMARKS.md, agentk memory).
 */
const kubeConfigWithoutGeneratedApi = {
  name: 'kubeconfig-without-generated-api',
  setup(build) {
    build.onResolve({ filter: /^\.\/gen\/index\.js$/ }, (args) =>
      args.importer.replaceAll('\\', '/').endsWith('@kubernetes/client-node/dist/config.js')
        ? { path: 'client-node-config-gen', namespace: 'kubeconfig-gen', pluginData: args.resolveDir }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'kubeconfig-gen' }, (args) => ({
      contents: "export { createConfiguration } from './gen/configuration.js'; export { ServerConfiguration } from './gen/servers.js';",
      resolveDir: args.pluginData,
      loader: 'js',
    }));
  },
};

const extensionBundle = { ...common, outdir, platform: 'node', format: 'cjs', target: 'node20', external: ['vscode'] };

const builds = [
  { ...extensionBundle, entryPoints: { extension: 'extension/src/extension.ts' }, plugins: [kubeLayerAsSeparateBundle] },
  { ...extensionBundle, entryPoints: { 'extension-kube': 'extension/src/kube/layer.ts' } },
  {
    ...common,
    entryPoints: agentPrograms,
    outdir,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
    plugins: [kubeConfigWithoutGeneratedApi],
  },
  {
    ...common,
    entryPoints: { 'webviews/logview': 'webviews/logview/main.ts', 'webviews/dashboard': 'webviews/dashboard/main.ts' },
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

/** The log view's TextMate engine (webviews/logview/highlight.ts) fetches Oniguruma's WebAssembly next to its script. */
function copyWebviewAssets() {
  mkdirSync(join(outdir, 'webviews'), { recursive: true });
  cpSync('node_modules/vscode-oniguruma/release/onig.wasm', join(outdir, 'webviews', 'onig.wasm'));
}

copyAssets();
copyWebviewAssets();
if (watch) {
  const contexts = await Promise.all(builds.map((b) => esbuild.context(b)));
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
