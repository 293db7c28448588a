// The hand-written encoders on agentk's hot path (protocol.ts) write exactly what protobufjs
// writes for the same frames, and what kas decodes back to the same values.
import { strict as assert } from 'node:assert';
import {
  EMPTY_TRAILER_REQUEST_BYTES,
  deserializeConnectRequest,
  encodeHeaderRequest,
  serializeConnectRequest,
  type HeaderFrame,
} from '../../../agent/modules/reverse_tunnel/protocol';

const HEADROOM = 5;

function decodedJson(bytes: Buffer): string {
  return JSON.stringify(deserializeConnectRequest(bytes));
}

const SAMPLES: Array<{ what: string; header: HeaderFrame }> = [
  {
    what: 'a typical API response',
    header: {
      status: 200,
      reason: 'OK',
      httpHeaders: {
        'content-type': { value: ['application/json'] },
        'content-length': { value: ['32043'] },
        date: { value: ['Sat, 21 Nov 2026 12:00:00 GMT'] },
      },
    },
  },
  {
    what: 'multi-valued and empty headers',
    header: {
      status: 101,
      reason: 'Switching Protocols',
      httpHeaders: { 'set-cookie': { value: ['a=1', 'b=2', ''] }, 'x-empty': { value: [] }, 'x-missing': {} },
    },
  },
  {
    what: 'non-ASCII text',
    header: { status: 404, reason: 'Nicht gefunden – ü', httpHeaders: { 'x-note': { value: ['日本語', 'ÿ latin1'] } } },
  },
  {
    what: 'long values (multi-byte lengths)',
    header: {
      status: 200,
      reason: '',
      httpHeaders: { 'x-long': { value: ['v'.repeat(300), 'w'.repeat(70_000)] }, ['x-' + 'n'.repeat(200)]: { value: ['1'] } },
    },
  },
  { what: 'no status, no reason, no headers', header: {} },
  { what: 'a large status number', header: { status: 2_000_000_000, httpHeaders: {} } },
];

describe('tunnel: hand-written frame encoders', () => {
  for (const { what, header } of SAMPLES) {
    it(`encodes a header frame as protobufjs does: ${what}`, () => {
      const encoded = encodeHeaderRequest(header, HEADROOM);
      assert.ok(encoded, 'the encoder takes this frame');
      const payload = encoded.subarray(HEADROOM);
      const reference = serializeConnectRequest({ header });
      assert.equal(decodedJson(payload), decodedJson(reference), 'kas decodes the same frame');
      assert.deepEqual(payload, reference, 'byte for byte');
    });
  }

  it('leaves frames with gRPC meta or a negative status to protobufjs', () => {
    assert.equal(encodeHeaderRequest({ status: 200, meta: { 'x-grpc': { value: ['1'] } } }, HEADROOM), undefined);
    assert.equal(encodeHeaderRequest({ status: -1 }, HEADROOM), undefined);
  });

  it('encodes the empty trailer as protobufjs does', () => {
    assert.deepEqual(EMPTY_TRAILER_REQUEST_BYTES, serializeConnectRequest({ trailer: {} }));
    assert.ok(deserializeConnectRequest(EMPTY_TRAILER_REQUEST_BYTES).trailer, 'decodes as a trailer');
  });
});
