// Writes deploy/agentk/ (the kustomize base for agentk) from the install manifest's code, so the
// base and `kas agent install-manifest` never drift apart (test/kas/deploy.test.ts checks it).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { kustomizeBaseFiles } from '../modules/agent_registry/install_manifest';

const dir = path.join(__dirname, '..', '..', 'deploy', 'agentk');
for (const [name, content] of Object.entries(kustomizeBaseFiles())) writeFileSync(path.join(dir, name), content);
process.stdout.write(`wrote ${dir}\n`);
