/** Execution tiers (`virtkit run --tier`): the interpreter alone, or hot code translated to JS or to wasm. */
export type Tier = 'interp' | 'js' | 'wasm';
export const TIERS: readonly Tier[] = ['interp', 'js', 'wasm'];
