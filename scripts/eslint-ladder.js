// An ESLint rule for the layer ladder (docs/architecture.md): a file under src/<layer>/ may import
// only its own layer and the layers below it. Specifiers are resolved against the importing file,
// so '../machine/bus.ts' from src/riscv/ and '../../machine/bus.ts' from src/riscv/fpu/ are judged
// alike, and a subfolder that happens to share a layer's name (src/host/node/net/) is no confusion.
import { dirname, relative, resolve, sep } from 'node:path';

/** What each layer of src/ may import besides itself, top of the ladder first. */
export const LADDER = {
  cli: ['manager', 'host', 'vmm', 'machine', 'riscv', 'devices', 'virtio', 'storage', 'net', 'memory'],
  manager: ['host', 'vmm', 'machine', 'riscv', 'devices', 'virtio', 'storage', 'net', 'memory'],
  host: ['vmm', 'machine', 'riscv', 'devices', 'virtio', 'storage', 'net', 'memory'],
  vmm: ['machine', 'riscv', 'devices', 'virtio', 'storage', 'net', 'memory'],
  machine: ['riscv', 'devices', 'virtio', 'storage', 'net', 'memory'],
  riscv: ['memory'],
  devices: ['memory'],
  virtio: ['storage', 'net', 'memory'],
  storage: ['memory'],
  net: ['memory'],
  memory: [],
};

/** The layer a path under root/src/ belongs to, or undefined outside src/ (tests, web/, bench/). */
function layerOf(root, file) {
  const rel = relative(resolve(root, 'src'), file);
  if (rel.startsWith('..') || rel === '') return undefined;
  const first = rel.split(sep)[0];
  return Object.hasOwn(LADDER, first) ? first : undefined;
}

export const ladderPlugin = {
  rules: {
    ladder: {
      meta: {
        type: 'problem',
        docs: { description: 'imports follow the layer ladder of src/ (down only)' },
        schema: [],
      },
      create(context) {
        const file = context.filename;
        const root = context.cwd;
        const from = layerOf(root, file);
        if (!from) return {};
        const check = (node, source) => {
          if (!source || typeof source.value !== 'string' || !source.value.startsWith('.')) return;
          const to = layerOf(root, resolve(dirname(file), source.value));
          if (!to || to === from || LADDER[from].includes(to)) return;
          context.report({
            node,
            message: `src/${from}/ may not import src/${to}/: imports run down the layer ladder only (${from} may import ${LADDER[from].join(', ') || 'nothing outside itself'}; see docs/architecture.md)`,
          });
        };
        return {
          ImportDeclaration: (n) => check(n, n.source),
          ExportNamedDeclaration: (n) => check(n, n.source),
          ExportAllDeclaration: (n) => check(n, n.source),
          ImportExpression: (n) => check(n, n.source.type === 'Literal' ? n.source : undefined),
        };
      },
    },
  },
};
