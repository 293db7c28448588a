// Stable numeric agent ids: the first time an agent name is seen it gets the next number, and
// keeps it across restarts (data_dir/agents.json). Ids are never reused, even after an agent's
// folder is removed, so an old `pat:<id>:...` credential can never reach a different agent.
import path from 'node:path';
import { readJsonFile, withFileLock, writeJsonFile } from './json_file';

interface AgentIdsFile {
  nextId: number;
  agents: Record<string, number>;
}

export class AgentIdStore {
  private readonly file: string;
  private pending: Promise<unknown> = Promise.resolve();

  constructor(dataDir: string) {
    this.file = path.join(dataDir, 'agents.json');
  }

  /** Ids for `names`, assigning new ones as needed. Calls are serialised within this process. */
  async idsFor(names: string[]): Promise<Map<string, number>> {
    const run = this.pending.then(() => withFileLock(this.file, () => this.assign(names)));
    this.pending = run.catch(() => undefined);
    return run;
  }

  async idFor(name: string): Promise<number> {
    return (await this.idsFor([name])).get(name)!;
  }

  /** The name of the agent that has `id`, if any ever had. */
  async nameOf(id: number): Promise<string | undefined> {
    const data = await readJsonFile<AgentIdsFile>(this.file, { nextId: 1, agents: {} });
    return Object.entries(data.agents).find(([, value]) => value === id)?.[0];
  }

  private async assign(names: string[]): Promise<Map<string, number>> {
    // Re-read every time (under the file lock): the kas CLI may have assigned ids in another process.
    const data = await readJsonFile<AgentIdsFile>(this.file, { nextId: 1, agents: {} });
    let changed = false;
    for (const name of names) {
      if (data.agents[name] !== undefined) continue;
      data.agents[name] = data.nextId++;
      changed = true;
    }
    if (changed) await writeJsonFile(this.file, data);
    return new Map(names.map((name) => [name, data.agents[name]!]));
  }
}
