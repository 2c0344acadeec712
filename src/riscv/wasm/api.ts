/**
 * The part of the host's WebAssembly API the wasm tier uses, typed here because the core is
 * compiled without DOM or Node typings. Undefined where the host has no WebAssembly.
 */
export interface WasmModule {
  readonly __wasmModule?: never;
}
export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
export interface WasmTable {
  set(index: number, value: unknown): void;
  readonly length: number;
}
export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports?: Record<string, Record<string, unknown>>) => WasmInstance;
  Memory: new (desc: { initial: number; maximum?: number }) => { readonly buffer: ArrayBuffer };
  Table: new (desc: { element: 'anyfunc'; initial: number; maximum?: number }) => WasmTable;
}

export const wasmApi: WasmApi | undefined = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
