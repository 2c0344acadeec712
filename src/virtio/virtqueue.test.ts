import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DescChain, VirtQueue, VirtioError, MAX_INDIRECT } from './virtqueue.ts';

const BASE = 0x8000_0000;
const SIZE = 8;
const DESC = BASE + 0x1000;
const AVAIL = BASE + 0x2000;
const USED = BASE + 0x3000;

function setup(opts: { indirect?: boolean; eventIdx?: boolean } = {}) {
  const ram = new Uint8Array(0x10000);
  const view = new DataView(ram.buffer);
  const q = new VirtQueue({ ram, ramBase: BASE }, 16);
  q.size = SIZE;
  q.descAddr = DESC;
  q.driverAddr = AVAIL;
  q.deviceAddr = USED;
  q.activate();
  q.indirect = opts.indirect ?? false;
  q.eventIdx = opts.eventIdx ?? false;
  let availIdx = 0;
  const desc = (table: number, i: number, addr: number, len: number, flags: number, next = 0) => {
    const d = table - BASE + 16 * i;
    view.setUint32(d, addr % 2 ** 32, true);
    view.setUint32(d + 4, Math.floor(addr / 2 ** 32), true);
    view.setUint32(d + 8, len, true);
    view.setUint16(d + 12, flags, true);
    view.setUint16(d + 14, next, true);
  };
  const publish = (head: number) => {
    view.setUint16(AVAIL - BASE + 4 + 2 * (availIdx % SIZE), head, true);
    availIdx = (availIdx + 1) & 0xffff;
    view.setUint16(AVAIL - BASE + 2, availIdx, true);
  };
  return { ram, view, q, desc, publish, chain: new DescChain() };
}

test('pops a chain as readable then writable RAM segments', () => {
  const s = setup();
  s.desc(DESC, 0, BASE + 0x4000, 16, 1, 5);
  s.desc(DESC, 5, BASE + 0x5000, 100, 1 | 2, 2);
  s.desc(DESC, 2, BASE + 0x6000, 1, 2);
  s.publish(0);
  assert.equal(s.q.hasAvailable(), true);
  assert.equal(s.q.pop(s.chain), true);
  assert.equal(s.chain.head, 0);
  assert.deepEqual([s.chain.readCount, s.chain.readBytes, s.chain.readOff[0]], [1, 16, 0x4000]);
  assert.deepEqual([s.chain.writeCount, s.chain.writeBytes], [2, 101]);
  assert.equal(s.q.pop(s.chain), false);
});

test('copyOut/copyIn treat segments as one byte stream', () => {
  const s = setup();
  s.desc(DESC, 0, BASE + 0x4000, 3, 1, 1);
  s.desc(DESC, 1, BASE + 0x4100, 5, 1, 2);
  s.desc(DESC, 2, BASE + 0x5000, 2, 3, 3);
  s.desc(DESC, 3, BASE + 0x5100, 4, 2);
  s.ram.set([1, 2, 3], 0x4000);
  s.ram.set([4, 5, 6, 7, 8], 0x4100);
  s.publish(0);
  s.q.pop(s.chain);
  const out = new Uint8Array(6);
  assert.equal(s.chain.copyOut(s.ram, 2, out), 6);
  assert.deepEqual([...out], [3, 4, 5, 6, 7, 8]);
  assert.equal(s.chain.copyIn(s.ram, 1, Uint8Array.of(9, 9, 9, 9, 9, 9, 9)), 5);
  assert.deepEqual([...s.ram.subarray(0x5000, 0x5002)], [0, 9]);
  assert.deepEqual([...s.ram.subarray(0x5100, 0x5104)], [9, 9, 9, 9]);
});

test('used ring entries, used idx and interrupt suppression without EVENT_IDX', () => {
  const s = setup();
  s.desc(DESC, 0, BASE + 0x4000, 4, 2);
  s.publish(0);
  s.q.pop(s.chain);
  s.q.pushUsed(0, 4);
  assert.equal(s.view.getUint16(USED - BASE + 2, true), 1);
  assert.equal(s.view.getUint32(USED - BASE + 4, true), 0);
  assert.equal(s.view.getUint32(USED - BASE + 8, true), 4);
  assert.equal(s.q.needsInterrupt(), true);
  s.view.setUint16(AVAIL - BASE, 1, true); // VRING_AVAIL_F_NO_INTERRUPT
  assert.equal(s.q.needsInterrupt(), false);
});

test('EVENT_IDX: interrupts only when used idx crosses used_event; avail_event is published', () => {
  const s = setup({ eventIdx: true });
  const usedEvent = (v: number) => s.view.setUint16(AVAIL - BASE + 4 + 2 * SIZE, v, true);
  for (let i = 0; i < 4; i++) {
    s.desc(DESC, i, BASE + 0x4000, 4, 2);
    s.publish(i);
  }
  s.q.pop(s.chain);
  assert.equal(s.view.getUint16(USED - BASE + 4 + 8 * SIZE, true), 1, 'avail_event');
  s.q.pushUsed(0, 4);
  assert.equal(s.q.needsInterrupt(), true, 'first notification is always sent');
  usedEvent(2); // driver wants an interrupt once entry 2 is used (used idx becomes 3)
  s.q.pop(s.chain);
  s.q.pushUsed(1, 4);
  assert.equal(s.q.needsInterrupt(), false);
  s.q.pop(s.chain);
  s.q.pushUsed(2, 4);
  assert.equal(s.q.needsInterrupt(), true);
  s.q.pop(s.chain);
  s.q.pushUsed(3, 4);
  assert.equal(s.q.needsInterrupt(), false);
});

test('indices wrap at 2^16', () => {
  const s = setup();
  s.q.loadState({ ...s.q.saveState(), lastAvail: 0xfffe, usedIdx: 0xfffe });
  s.view.setUint16(AVAIL - BASE + 2, 0xfffe, true);
  let idx = 0xfffe;
  for (let k = 0; k < 4; k++) {
    s.desc(DESC, k, BASE + 0x4000, 4, 2);
    s.view.setUint16(AVAIL - BASE + 4 + 2 * (idx % SIZE), k, true);
    idx = (idx + 1) & 0xffff;
    s.view.setUint16(AVAIL - BASE + 2, idx, true);
    assert.equal(s.q.pop(s.chain), true);
    assert.equal(s.chain.head, k);
    s.q.pushUsed(k, 1);
  }
  assert.equal(s.view.getUint16(USED - BASE + 2, true), 2);
});

test('indirect descriptors are followed when negotiated', () => {
  const s = setup({ indirect: true });
  const table = BASE + 0x7000;
  s.desc(table, 0, BASE + 0x4000, 16, 1, 1);
  s.desc(table, 1, BASE + 0x5000, 512, 1 | 2, 2);
  s.desc(table, 2, BASE + 0x6000, 1, 2);
  s.desc(DESC, 0, table, 48, 4);
  s.publish(0);
  assert.equal(s.q.pop(s.chain), true);
  assert.deepEqual([s.chain.readBytes, s.chain.writeBytes, s.chain.writeCount], [16, 513, 2]);
});

function hostile(name: string, build: (s: ReturnType<typeof setup>) => void, msg: RegExp, opts = { indirect: true }) {
  test(`hostile: ${name}`, () => {
    const s = setup(opts);
    build(s);
    assert.throws(
      () => s.q.pop(s.chain),
      (e: unknown) => e instanceof VirtioError && msg.test(e.message),
    );
  });
}

hostile(
  'buffer past the end of RAM',
  (s) => {
    s.desc(DESC, 0, BASE + 0xff00, 0x200, 2);
    s.publish(0);
  },
  /outside guest RAM/,
);
hostile(
  'buffer below RAM',
  (s) => {
    s.desc(DESC, 0, 0x1000, 16, 2);
    s.publish(0);
  },
  /outside guest RAM/,
);
hostile(
  '64-bit address far above RAM',
  (s) => {
    s.desc(DESC, 0, 2 ** 63, 16, 2);
    s.publish(0);
  },
  /outside guest RAM/,
);
hostile(
  'huge length',
  (s) => {
    s.desc(DESC, 0, BASE, 0xffffffff, 2);
    s.publish(0);
  },
  /outside guest RAM/,
);
hostile(
  'descriptor loop',
  (s) => {
    s.desc(DESC, 0, BASE + 0x4000, 4, 1, 1);
    s.desc(DESC, 1, BASE + 0x4000, 4, 1, 0);
    s.publish(0);
  },
  /longer than 8/,
);
hostile(
  'self loop',
  (s) => {
    s.desc(DESC, 3, BASE + 0x4000, 4, 1, 3);
    s.publish(3);
  },
  /longer than 8/,
);
hostile('head index out of the table', (s) => s.publish(SIZE), /index 8/);
hostile(
  'next index out of the table',
  (s) => {
    s.desc(DESC, 0, BASE + 0x4000, 4, 1, 200);
    s.publish(0);
  },
  /index 200/,
);
hostile(
  'avail idx jumps more than the queue size',
  (s) => {
    s.view.setUint16(AVAIL - BASE + 2, SIZE + 1, true);
  },
  /ahead/,
);
hostile(
  'readable after writable',
  (s) => {
    s.desc(DESC, 0, BASE + 0x4000, 4, 3, 1);
    s.desc(DESC, 1, BASE + 0x4000, 4, 0);
    s.publish(0);
  },
  /readable descriptor after a writable/,
);
hostile(
  'indirect without negotiation',
  (s) => {
    s.desc(DESC, 0, BASE + 0x7000, 16, 4);
    s.publish(0);
  },
  /without VIRTIO_F_INDIRECT_DESC/,
  { indirect: false },
);
hostile(
  'indirect table outside RAM',
  (s) => {
    s.desc(DESC, 0, BASE + 0xfff0, 32, 4);
    s.publish(0);
  },
  /indirect table .* outside guest RAM/,
);
hostile(
  'indirect table with odd length',
  (s) => {
    s.desc(DESC, 0, BASE + 0x7000, 24, 4);
    s.publish(0);
  },
  /multiple of 16/,
);
hostile(
  'indirect table too long',
  (s) => {
    s.desc(DESC, 0, BASE, 16 * (MAX_INDIRECT + 1), 4);
    s.publish(0);
  },
  /multiple of 16/,
);
hostile(
  'nested indirect',
  (s) => {
    s.desc(BASE + 0x7000, 0, BASE + 0x7000, 16, 4);
    s.desc(DESC, 0, BASE + 0x7000, 16, 4);
    s.publish(0);
  },
  /nested/,
);
hostile(
  'loop inside an indirect table',
  (s) => {
    s.desc(BASE + 0x7000, 0, BASE + 0x4000, 4, 1, 1);
    s.desc(BASE + 0x7000, 1, BASE + 0x4000, 4, 1, 0);
    s.desc(DESC, 0, BASE + 0x7000, 32, 4);
    s.publish(0);
  },
  /longer than 2/,
);
hostile(
  'INDIRECT together with NEXT',
  (s) => {
    s.desc(DESC, 0, BASE + 0x7000, 16, 4 | 1, 1);
    s.publish(0);
  },
  /INDIRECT and NEXT/,
);

test('activate rejects rings outside RAM, misaligned, or with a bad size', () => {
  const ram = new Uint8Array(0x10000);
  const mk = (size: number, desc: number, avail: number, used: number) => {
    const q = new VirtQueue({ ram, ramBase: BASE }, 256);
    q.size = size;
    q.descAddr = desc;
    q.driverAddr = avail;
    q.deviceAddr = used;
    return () => q.activate();
  };
  assert.throws(mk(3, DESC, AVAIL, USED), /power of two/);
  assert.throws(mk(0, DESC, AVAIL, USED), /power of two/);
  assert.throws(mk(512, DESC, AVAIL, USED), /power of two/);
  assert.throws(mk(8, DESC + 8, AVAIL, USED), /aligned/);
  assert.throws(mk(8, DESC, AVAIL + 1, USED), /aligned/);
  assert.throws(mk(8, DESC, AVAIL, USED + 2), /aligned/);
  assert.throws(mk(256, BASE + 0xf800, AVAIL, USED), /descriptor table .* outside/);
  assert.throws(mk(8, DESC, AVAIL, BASE + 0x10000 - 8), /device area .* outside/);
  assert.throws(mk(8, DESC, 0, USED), /driver area .* outside/);
  mk(8, DESC, AVAIL, USED)();
});

test('random descriptor tables never throw anything but VirtioError and never hang', () => {
  let seed = 12345;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed;
  };
  for (let round = 0; round < 300; round++) {
    const s = setup({ indirect: true });
    for (let i = 0; i < 0x200; i++)
      s.view.setUint32(DESC - BASE + 4 * i, rnd() % 3 === 0 ? rnd() : rnd() % 0x12000, true);
    // Keep addresses in or near RAM so some chains are valid.
    for (let i = 0; i < SIZE; i++) {
      s.view.setUint32(DESC - BASE + 16 * i + 4, 0, true);
      s.view.setUint32(DESC - BASE + 16 * i, BASE + (rnd() % 0x11000), true);
      s.view.setUint16(DESC - BASE + 16 * i + 14, rnd() % 10, true);
    }
    s.view.setUint16(AVAIL - BASE + 2, rnd() % 12, true);
    for (let i = 0; i < SIZE; i++) s.view.setUint16(AVAIL - BASE + 4 + 2 * i, rnd() % 10, true);
    for (let k = 0; k < 12; k++) {
      try {
        if (!s.q.pop(s.chain)) break;
        assert.ok(s.chain.readCount + s.chain.writeCount <= SIZE + MAX_INDIRECT);
      } catch (e) {
        assert.ok(e instanceof VirtioError, String(e));
        break;
      }
    }
  }
});

test('complete() reports device writes to RAM (code-cache coherence) before publishing', () => {
  const ram = new Uint8Array(0x10000);
  const writes: Array<[number, number]> = [];
  const mem = { ram, ramBase: BASE, notifyWrite: (a: number, l: number) => writes.push([a, l]) };
  const q = new VirtQueue(mem, 8);
  q.descAddr = DESC;
  q.driverAddr = AVAIL;
  q.deviceAddr = USED;
  q.activate();
  const v = new DataView(ram.buffer);
  v.setUint32(DESC - BASE, BASE + 0x4000, true);
  v.setUint32(DESC - BASE + 8, 100, true);
  v.setUint16(DESC - BASE + 12, 2, true);
  v.setUint16(AVAIL - BASE + 2, 1, true);
  const chain = new DescChain();
  assert.equal(q.pop(chain), true);
  q.complete(chain, 100);
  assert.deepEqual(writes[0], [BASE + 0x4000, 100]);
  assert.ok(
    writes.some(([a]) => a === USED + 2),
    'used.idx',
  );
});

test('a head made available again while still in flight is a driver error; using it releases it', () => {
  const s = setup();
  s.desc(DESC, 0, BASE + 0x4000, 4, 2);
  s.publish(0);
  assert.equal(s.q.pop(s.chain), true);
  assert.equal(s.q.inflightCount, 1);
  s.publish(0); // re-posted before the device used it
  assert.throws(
    () => s.q.pop(s.chain),
    (e: unknown) => e instanceof VirtioError && /head 0 .*still in flight/.test(e.message),
  );
  assert.equal(s.q.inflightCount, 1);

  const t = setup();
  t.desc(DESC, 0, BASE + 0x4000, 4, 2);
  for (let round = 0; round < 3 * SIZE; round++) {
    t.publish(0);
    assert.equal(t.q.pop(t.chain), true);
    assert.equal(t.q.inflightCount, 1);
    t.q.complete(t.chain, 4); // used: the driver may post it again
    assert.equal(t.q.inflightCount, 0);
  }
});

test('at most queue-size chains are in flight; reset and disabling the queue abandon them', () => {
  const s = setup();
  for (let i = 0; i < SIZE; i++) {
    s.desc(DESC, i, BASE + 0x4000, 4, 2);
    s.publish(i);
    assert.equal(s.q.pop(s.chain), true);
  }
  assert.equal(s.q.inflightCount, SIZE);
  for (let i = 0; i < SIZE; i++) {
    s.publish(i);
    assert.throws(() => s.q.pop(s.chain), VirtioError);
    assert.equal(s.q.inflightCount, SIZE);
  }
  const epoch = s.q.epoch;
  s.q.disable();
  assert.equal(s.q.ready, false);
  assert.equal(s.q.inflightCount, 0);
  assert.notEqual(s.q.epoch, epoch);
  const e2 = s.q.epoch;
  s.q.reset();
  assert.notEqual(s.q.epoch, e2);
});
