// kas's side of one tunnel stream as an explicit state machine over agentk's frames. Any agent
// token holder can send any frame sequence, so every frame is checked against the state before a
// consumer sees it; a frame that does not fit ends that one stream with a protocol error.
//
//   awaiting_descriptor --descriptor--> idle --(kas sends request_info)--> requested
//   requested --header--> answering --message*--> answering --trailer--> finished
//   requested | answering --error--> finished
// Anything else (a frame before the descriptor or before any request, a second descriptor or
// header, a message or trailer before the header, any frame after trailer/error, a frame with no
// field set) is a protocol error. Oversized frames never get here: the gRPC layer refuses them.
import type { ConnectRequest, ConnectResponse } from '../protocol';

export type TunnelStreamState = 'awaiting_descriptor' | 'idle' | 'requested' | 'answering' | 'finished';

export type FrameKind = 'descriptor' | 'header' | 'message' | 'trailer' | 'error';

/** Which field of a decoded ConnectRequest is set; undefined for a frame with none. */
export function frameKind(frame: ConnectRequest | null | undefined): FrameKind | undefined {
  if (!frame) return undefined;
  if (frame.descriptor) return 'descriptor';
  if (frame.header) return 'header';
  if (frame.message) return 'message';
  if (frame.trailer) return 'trailer';
  if (frame.error) return 'error';
  return undefined;
}

/** Per state: the state each acceptable frame kind leads to. */
const TRANSITIONS: Record<TunnelStreamState, Partial<Record<FrameKind, TunnelStreamState>>> = {
  awaiting_descriptor: { descriptor: 'idle' },
  idle: {},
  requested: { header: 'answering', error: 'finished' },
  answering: { message: 'answering', trailer: 'finished', error: 'finished' },
  finished: {},
};

const EXPECTED: Record<TunnelStreamState, string> = {
  awaiting_descriptor: 'the agent descriptor first',
  idle: 'nothing before kas sends a request',
  requested: 'a header or an error',
  answering: 'messages, then a trailer or an error',
  finished: 'nothing after the trailer or error',
};

export type Transition = { state: TunnelStreamState } | { protocolError: string };

/** The state after agentk's frame, or the protocol error it is. */
export function nextState(state: TunnelStreamState, frame: ConnectRequest | null | undefined): Transition {
  const kind = frameKind(frame);
  if (!kind) return { protocolError: 'the agent sent a tunnel frame with no field set' };
  const next = TRANSITIONS[state][kind];
  if (next) return { state: next };
  return { protocolError: `the agent sent ${kind} where kas expects ${EXPECTED[state]}` };
}

/** One stream's state; kas's own request_info moves it from idle to requested. */
export class TunnelStreamMachine {
  state: TunnelStreamState = 'awaiting_descriptor';

  /** undefined when the frame fits (the state moved on), else the protocol error. */
  received(frame: ConnectRequest | null | undefined): string | undefined {
    const transition = nextState(this.state, frame);
    if ('protocolError' in transition) return transition.protocolError;
    this.state = transition.state;
    return undefined;
  }

  sent(frame: ConnectResponse): void {
    if (frame.requestInfo && this.state === 'idle') this.state = 'requested';
  }
}
