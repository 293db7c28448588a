// Import rules `npm test` enforces: no import circles; the extension and the webviews take from
// agent/ only the shared folder; the product (kas, agentk, modules) never imports the dev tools;
// modules reach kas and agentk only through the module contract (agent/module/), never the assembly.
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'extension-uses-only-agent-shared',
      severity: 'error',
      from: { path: '^(extension|webviews)/' },
      to: { path: '^agent/', pathNot: '^agent/shared/' },
    },
    {
      name: 'shared-stands-alone',
      severity: 'error',
      from: { path: '^agent/shared/' },
      to: { path: '^(agent|extension|webviews)/', pathNot: '^agent/shared/' },
    },
    {
      name: 'product-does-not-use-devtools',
      severity: 'error',
      from: { path: '^agent/', pathNot: '^agent/(devtools|cmd)/' },
      to: { path: '^agent/devtools/' },
    },
    {
      name: 'modules-do-not-import-the-assembly',
      severity: 'error',
      from: { path: '^agent/(modules|module|kascfg|internal|shared)/' },
      to: { path: '^agent/(kas|agentk|cmd)/' },
    },
    {
      name: 'extension-stays-out-of-agent',
      severity: 'error',
      from: { path: '^agent/' },
      to: { path: '^(extension|webviews)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(node_modules|dist|\\.cache)/|^esbuild\\.mjs$' },
  },
};
