/**
 * The few host globals the platform-neutral core may use: they exist with the same behaviour in
 * Node.js (>= 20) and every browser. Declared here because the core is compiled without DOM or
 * Node typings (tsconfig.core.json), which keeps everything else out.
 */
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: ArrayBufferView | ArrayBuffer, options?: { stream?: boolean }): string;
}
// eslint-disable-next-line no-var -- a global object, as lib.dom.d.ts declares it
declare var crypto: {
  getRandomValues<T extends ArrayBufferView>(array: T): T;
  subtle: unknown;
};
