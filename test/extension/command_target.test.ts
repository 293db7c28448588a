// Which tree item a command acts on when VS Code passes one, or none (the item vanished in a
// tree refresh, or the command came from the palette or a keybinding).
import { strict as assert } from 'node:assert';
import { argumentOrSelection } from '../../extension/src/commands/command_target';
import type { AgentNode, AgentsNode, PodNode } from '../../extension/src/trees/nodes';

const agent: AgentNode = { kind: 'agent', connectionId: 'c1', agent: { id: '1', name: 'dev' } as AgentNode['agent'] };
const pod: PodNode = { kind: 'pod', connectionId: 'c1', agentId: '1', namespace: 'default', pod: { metadata: { name: 'web' } } };

describe('command target: argument or selection', () => {
  it('takes the item VS Code passed when it is of a kind the command takes', () => {
    assert.equal(argumentOrSelection(agent, [pod], ['agent']), agent);
  });

  it('refuses a passed item of another kind rather than falling back to the selection', () => {
    assert.equal(argumentOrSelection(pod, [agent], ['agent']), undefined);
    assert.equal(argumentOrSelection('not a node', [agent], ['agent']), undefined);
  });

  it('uses the one selected item when no argument came (the item vanished in a refresh)', () => {
    assert.equal(argumentOrSelection(undefined, [agent], ['agent']), agent);
    assert.equal(argumentOrSelection(undefined, [pod], ['pod', 'container']), pod);
  });

  it('uses no selection of the wrong kind, an empty selection or several selected items', () => {
    assert.equal(argumentOrSelection(undefined, [pod], ['agent']), undefined);
    assert.equal(argumentOrSelection(undefined, [], ['agent']), undefined);
    const two: AgentsNode[] = [agent, { ...agent, connectionId: 'c2' }];
    assert.equal(argumentOrSelection(undefined, two, ['agent']), undefined);
  });
});
