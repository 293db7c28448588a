// The kas-side tunnel stream state machine, frame kind by state.
import { strict as assert } from 'node:assert';
import type { ConnectRequest } from '../../../agent/modules/reverse_tunnel/protocol';
import { nextState, TunnelStreamMachine, type TunnelStreamState } from '../../../agent/modules/reverse_tunnel/server/stream_state';

const FRAMES: Record<string, ConnectRequest> = {
  descriptor: { descriptor: {} },
  header: { header: { status: 200 } },
  message: { message: {} },
  trailer: { trailer: {} },
  error: { error: {} },
  empty: {},
};

describe('tunnel: kas-side stream state machine', () => {
  it('accepts exactly the documented transitions', () => {
    const accepted: Record<TunnelStreamState, Record<string, TunnelStreamState>> = {
      awaiting_descriptor: { descriptor: 'idle' },
      idle: {},
      requested: { header: 'answering', error: 'finished' },
      answering: { message: 'answering', trailer: 'finished', error: 'finished' },
      finished: {},
    };
    for (const [state, allowed] of Object.entries(accepted) as Array<[TunnelStreamState, Record<string, TunnelStreamState>]>) {
      for (const [kind, frame] of Object.entries(FRAMES)) {
        const result = nextState(state, frame);
        if (allowed[kind]) assert.deepEqual(result, { state: allowed[kind] }, `${state} + ${kind}`);
        else assert.ok('protocolError' in result, `${state} + ${kind} must be a protocol error`);
      }
    }
    assert.ok('protocolError' in nextState('requested', null));
  });

  it('moves from idle to requested only when kas sends request_info', () => {
    const machine = new TunnelStreamMachine();
    assert.equal(machine.received(FRAMES.descriptor), undefined);
    machine.sent({ message: { data: Buffer.from('x') } });
    assert.equal(machine.state, 'idle');
    assert.match(machine.received(FRAMES.header) ?? '', /nothing before kas sends a request/);
    const answering = new TunnelStreamMachine();
    answering.received(FRAMES.descriptor);
    answering.sent({ requestInfo: { methodName: '/a/B' } });
    assert.equal(answering.received(FRAMES.header), undefined);
    assert.equal(answering.received(FRAMES.message), undefined);
    assert.equal(answering.received(FRAMES.trailer), undefined);
    assert.match(answering.received(FRAMES.message) ?? '', /after the trailer or error/);
  });
});
