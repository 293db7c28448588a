// spdy-transport's copy of the SPDY/3 header compression dictionary (the spec's, section 2.6.10.1).
declare module 'spdy-transport/lib/spdy-transport/protocol/spdy/dictionary' {
  const dictionary: Record<number, Buffer>;
  export = dictionary;
}
