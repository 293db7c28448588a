// Builds the bundles: the extension (CommonJS, `vscode` external; its Kubernetes layer a second
// bundle loaded on first cluster use), the agent-side command-line programs (kas, agentk,
// kas-devcluster, the local pair) and the webview scripts (browser IIFE). Names build only those
// bundles (`npm start` builds just `local-pair`); a bundle whose inputs have not changed since it
// was last built in the same mode is not built again.
// Usage: node esbuild.mjs [--watch] [--production] [extension|kas|agentk|kas-devcluster|local-pair|webviews ...]
import * as esbuild from 'esbuild';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';

const args = process.argv.slice(2);
const watch = args.includes('--watch');
const production = args.includes('--production');
const outdir = 'dist';
/** What each bundle was last built from: dist/.build/<target>.json (see upToDate). */
const recordDir = join(outdir, '.build');

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

/**
 * client-node's KubeConfig file imports, at its top, helpers only some kubeconfigs use: the azure,
 * gcp and oidc auth providers (jsonpath-plus, openid-client), node-fetch (whatwg-url and tr46's
 * Unicode tables) for the generated API's fetch, and the proxy agents of a cluster's proxy-url
 * (socks, hpagent). In the agent programs each is a stand-in that loads the real module on first
 * use, so an agentk whose kubeconfig uses none never runs them (BENCHMARKS.md, agentk memory).
 */
const LAZY_AUTH_PROVIDERS = {
  './azure_auth.js': ['AzureAuth', 'azure'],
  './gcp_auth.js': ['GoogleCloudPlatformAuth', 'gcp'],
  './oidc_auth.js': ['OpenIDConnectAuth', 'oidc'],
};
const LAZY_CLASSES = {
  'node-fetch': ['Headers'],
  'socks-proxy-agent': ['SocksProxyAgent'],
  hpagent: ['HttpProxyAgent', 'HttpsProxyAgent'],
};
const lazyStandIn = (spec) => {
  const provider = LAZY_AUTH_PROVIDERS[spec];
  if (provider) {
    const [name, authProvider] = provider;
    return `export class ${name} {
  isAuthProvider(user) { return user?.authProvider?.name === '${authProvider}'; }
  async applyAuthentication(...args) { this.real ??= import('${spec}').then((m) => new m.${name}()); return (await this.real).applyAuthentication(...args); }
}`;
  }
  const classes = LAZY_CLASSES[spec].map(
    (name) => `export class ${name} { constructor(...args) { return new (load().${name})(...args); } }`,
  );
  const fetch = spec === 'node-fetch' ? ['export default function fetch(...args) { return load()(...args); }'] : [];
  return [`let loaded; const load = () => (loaded ??= require('${spec}'));`, ...classes, ...fetch].join('\n');
};
const kubeConfigHelpersOnFirstUse = {
  name: 'kubeconfig-helpers-on-first-use',
  setup(build) {
    const specs = [...Object.keys(LAZY_AUTH_PROVIDERS), ...Object.keys(LAZY_CLASSES)];
    build.onResolve({ filter: /^(\.\/(azure|gcp|oidc)_auth\.js|node-fetch|socks-proxy-agent|hpagent)$/ }, (args) => {
      const importer = args.importer.replaceAll('\\', '/');
      const fromConfig = importer.endsWith('@kubernetes/client-node/dist/config.js');
      const fromFetchLibrary = importer.endsWith('@kubernetes/client-node/dist/gen/http/isomorphic-fetch.js');
      if (!specs.includes(args.path) || !(fromConfig || (fromFetchLibrary && args.path === 'node-fetch'))) return undefined;
      return {
        path: `on-first-use:${args.path}`,
        namespace: 'kubeconfig-lazy',
        pluginData: { spec: args.path, resolveDir: args.resolveDir },
      };
    });
    build.onLoad({ filter: /.*/, namespace: 'kubeconfig-lazy' }, (args) => ({
      contents: lazyStandIn(args.pluginData.spec),
      resolveDir: args.pluginData.resolveDir,
      loader: 'js',
    }));
  },
};

/**
 * The agent programs use undici's Pool (agentk) and Client (kas) through their dispatch API alone.
 * Its package index also builds fetch, WebSocket, caches, mocks and proxy agents at start, about
 * 9 MiB of RSS (BENCHMARKS.md, agentk memory); importing anything else from 'undici' fails the build.
 */
const undiciDispatchersOnly = {
  name: 'undici-dispatchers-only',
  setup(build) {
    build.onResolve({ filter: /^undici$/ }, (args) => ({
      path: 'undici-dispatchers',
      namespace: 'undici-dispatchers',
      pluginData: args.resolveDir,
    }));
    build.onLoad({ filter: /.*/, namespace: 'undici-dispatchers' }, (args) => ({
      contents:
        "export { default as Pool } from 'undici/lib/dispatcher/pool.js'; export { default as Client } from 'undici/lib/dispatcher/client.js';",
      resolveDir: args.pluginData,
      loader: 'js',
    }));
  },
};

const extensionBundle = { ...common, outdir, platform: 'node', format: 'cjs', target: 'node20', external: ['vscode'] };

const program = (name) => ({
  ...common,
  entryPoints: { [name]: agentPrograms[name] },
  outdir,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  banner: { js: '#!/usr/bin/env node' },
  plugins: [kubeConfigWithoutGeneratedApi, kubeConfigHelpersOnFirstUse, undiciDispatchersOnly],
});

/** Every target: the esbuild builds it is made of and what it copies next to them. */
const targets = {
  extension: {
    builds: [
      { ...extensionBundle, entryPoints: { extension: 'extension/src/extension.ts' }, plugins: [kubeLayerAsSeparateBundle] },
      { ...extensionBundle, entryPoints: { 'extension-kube': 'extension/src/kube/layer.ts' } },
    ],
    copy: copyAssets,
  },
  ...Object.fromEntries(Object.keys(agentPrograms).map((name) => [name, { builds: [program(name)] }])),
  webviews: {
    builds: [
      {
        ...common,
        entryPoints: { 'webviews/logview': 'webviews/logview/main.ts', 'webviews/dashboard': 'webviews/dashboard/main.ts' },
        outdir,
        platform: 'browser',
        format: 'iife',
        target: 'es2022',
      },
    ],
    copy: copyWebviewAssets,
  },
};

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

const named = args.filter((a) => !a.startsWith('--'));
const unknown = named.filter((name) => !(name in targets));
if (unknown.length > 0) {
  console.error(`esbuild.mjs: no target ${unknown.join(', ')} (targets: ${Object.keys(targets).join(', ')})`);
  process.exit(2);
}
const selected = named.length > 0 ? named : Object.keys(targets);
const mode = production ? 'production' : 'development';
const recordFile = (name) => join(recordDir, `${name}.json`);

/**
 * True when the target's last build (its record: the mode, when it started, and every input and
 * output file esbuild named) is still current: same mode, every output present, and no input, nor
 * this file, changed since that build started.
 */
function upToDate(name) {
  try {
    const record = JSON.parse(readFileSync(recordFile(name), 'utf8'));
    if (record.mode !== mode) return false;
    for (const file of record.outputs) statSync(file);
    return [import.meta.filename, ...record.inputs].every((file) => statSync(file).mtimeMs < record.startedAt);
  } catch {
    return false; // no record yet, or a file it names is gone
  }
}

async function build(name) {
  const target = targets[name];
  target.copy?.();
  if (upToDate(name)) {
    console.error(`${name}: up to date`);
    return;
  }
  const startedAt = Date.now();
  const results = await Promise.all(target.builds.map((options) => esbuild.build({ ...options, metafile: true })));
  const inputs = results.flatMap((r) => Object.keys(r.metafile.inputs).filter((file) => !file.includes(':')));
  const outputs = results.flatMap((r) => Object.keys(r.metafile.outputs));
  mkdirSync(recordDir, { recursive: true });
  writeFileSync(recordFile(name), JSON.stringify({ mode, startedAt, inputs, outputs }));
}

if (watch) {
  const options = selected.flatMap((name) => {
    rmSync(recordFile(name), { force: true }); // what watch builds is not recorded: build in full next time
    targets[name].copy?.();
    return targets[name].builds;
  });
  const contexts = await Promise.all(options.map((b) => esbuild.context(b)));
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(selected.map(build));
}
