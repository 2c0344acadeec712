import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FdtWriter, buildVirtFdt, parseIsa } from './fdt.ts';

function requireTool(tool: string, pkg: string): void {
  const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
  if (r.error) assert.fail(`${tool} is missing: install it with 'apt-get install -y ${pkg}'`);
}

const dir = mkdtempSync(join(tmpdir(), 'virtkit-fdt-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function dts(blob: Uint8Array): string {
  requireTool('dtc', 'device-tree-compiler');
  const file = join(dir, `t${Math.random().toString(36).slice(2)}.dtb`);
  writeFileSync(file, blob);
  const r = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, `dtc failed: ${r.stderr}`);
  return r.stdout;
}

function fdtget(file: string, node: string, prop: string): string {
  const r = spawnSync('fdtget', ['-t', 'x', file, node, prop], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : `<missing: ${r.stderr.trim()}>`;
}

test('writer: header, reservation map, dedup strings, alignment; dtc decompiles it', () => {
  const w = new FdtWriter();
  w.reserve(0x80000000, 0x200000);
  w.beginNode('');
  w.propU32('#address-cells', 2);
  w.propString('compatible', 'a,b', 'c');
  w.beginNode('node@1').propU32('#address-cells', 1).propU64('big', 0x1_0000_0002).propEmpty('flag').endNode();
  w.endNode();
  const blob = w.finish(3);
  const v = new DataView(blob.buffer);
  assert.equal(v.getUint32(0), 0xd00dfeed);
  assert.equal(v.getUint32(4), blob.length);
  assert.equal(v.getUint32(16), 40, 'reservation map offset');
  assert.equal(v.getUint32(8) % 4, 0, 'structure block aligned');
  assert.equal(v.getUint32(20), 17);
  assert.equal(v.getUint32(24), 16);
  assert.equal(v.getUint32(28), 3, 'boot cpu');
  assert.equal(v.getUint32(40 + 4), 0x80000000);
  assert.equal(v.getUint32(40 + 12), 0x200000);
  assert.equal(v.getUint32(40 + 16 + 4), 0, 'terminating entry');
  const strings = String.fromCharCode(...blob.subarray(v.getUint32(12), v.getUint32(12) + v.getUint32(32)));
  assert.equal(strings.split('#address-cells').length, 2, 'name stored once');
  const out = dts(blob);
  assert.match(out, /\/memreserve\/\s+0x0*80000000 0x0*200000;/);
  assert.match(out, /compatible = "a,b\\0c";/);
  assert.match(out, /big = <0x01 0x02>;/);
  assert.match(out, /flag;/);
});

test('writer rejects unbalanced nodes and non-ASCII strings', () => {
  assert.throws(() => new FdtWriter().beginNode('').finish(), /not closed/);
  assert.throws(() => new FdtWriter().endNode(), /without beginNode/);
  assert.throws(() => new FdtWriter().beginNode('').propString('x', 'caf\u00e9'), /ASCII/);
  assert.throws(() => new FdtWriter().beginNode('').propU64('x', -1), /non-negative/);
});

test('parseIsa splits base and extensions', () => {
  assert.deepEqual(parseIsa('rv64imafdc_zicsr_zifencei'), {
    base: 'rv64i',
    extensions: ['i', 'm', 'a', 'f', 'd', 'c', 'zicsr', 'zifencei'],
  });
  assert.deepEqual(parseIsa('rv64gc_zba').extensions, ['i', 'm', 'a', 'f', 'd', 'zicsr', 'zifencei', 'c', 'zba']);
  assert.throws(() => parseIsa('x86_64'), /invalid RISC-V ISA/);
  assert.throws(() => parseIsa('rv64'), /invalid RISC-V ISA/);
});

test('virt tree: chosen, cpus, soc devices decompile as expected', () => {
  const blob = buildVirtFdt({
    harts: 2,
    memorySize: 256 << 20,
    bootargs: 'console=ttyS0 root=/dev/vda',
    initrd: { start: 0x88000000, end: 0x88100000 },
    rngSeed: new Uint8Array(32).fill(7),
  });
  const out = dts(blob);
  assert.match(out, /bootargs = "console=ttyS0 root=\/dev\/vda";/);
  assert.match(out, /linux,initrd-start = <0x00 0x88000000>;/);
  assert.match(out, /linux,initrd-end = <0x00 0x88100000>;/);
  assert.match(out, /rng-seed = <0x7070707 /);
  assert.match(out, /riscv,isa = "rv64imafdc_zicsr_zifencei_zicntr_zba_zbb_zbs";/);
  assert.match(out, /riscv,isa-base = "rv64i";/);
  assert.match(out, /riscv,isa-extensions = "i\\0m\\0a\\0f\\0d\\0c\\0zicsr\\0zifencei\\0zicntr\\0zba\\0zbb\\0zbs";/);
  assert.match(out, /cpu@1 \{/);
  assert.match(out, /core1 \{/);
  assert.match(out, /memory@80000000 \{[^}]*reg = <0x00 0x80000000 0x00 0x10000000>;/);
  assert.match(out, /virtio_mmio@10008000 \{[^}]*interrupts = <0x08>;/);
  // The power button's slot, after QEMU's eight (IRQ 9 and 0x10009000 are unused by QEMU's virt).
  assert.match(out, /virtio_mmio@10009000 \{[^}]*interrupts = <0x09>;[^}]*reg = <0x00 0x10009000 0x00 0x1000>;/);
  assert.ok(out.lastIndexOf('virtio_mmio@10009000') > out.lastIndexOf('virtio_mmio@10001000'), 'probed last');
  assert.doesNotMatch(dts(buildVirtFdt({ harts: 1, memorySize: 256 << 20, powerButton: false })), /10009000/);
  assert.match(out, /riscv,ndev = <0x5f>;/);
});

test('virt tree matches QEMU virt on the key nodes', () => {
  requireTool('dtc', 'device-tree-compiler');
  const qemuDtb = join(dir, 'qemu.dtb');
  try {
    execFileSync('qemu-system-riscv64', ['-M', `virt,dumpdtb=${qemuDtb}`, '-smp', '2', '-m', '256M', '-nographic'], {
      stdio: 'pipe',
    });
  } catch (e) {
    assert.fail(`qemu-system-riscv64 could not dump its virt DTB (install qemu-system-misc): ${String(e)}`);
  }
  const ours = join(dir, 'ours.dtb');
  writeFileSync(ours, buildVirtFdt({ harts: 2, memorySize: 256 << 20 }));
  const same: Array<[string, string]> = [
    ['/', 'compatible'],
    ['/', '#address-cells'],
    ['/cpus', 'timebase-frequency'],
    ['/cpus/cpu@1', 'reg'],
    ['/cpus/cpu@1', 'mmu-type'],
    ['/cpus/cpu@1', 'device_type'],
    ['/cpus/cpu@1/interrupt-controller', 'compatible'],
    ['/cpus/cpu@1/interrupt-controller', '#interrupt-cells'],
    ['/memory@80000000', 'reg'],
    ['/chosen', 'stdout-path'],
    ['/poweroff', 'value'],
    ['/reboot', 'value'],
    ['/reboot', 'compatible'],
    ['/soc', 'compatible'],
    ['/soc/serial@10000000', 'reg'],
    ['/soc/serial@10000000', 'interrupts'],
    ['/soc/serial@10000000', 'clock-frequency'],
    ['/soc/serial@10000000', 'compatible'],
    ['/soc/rtc@101000', 'reg'],
    ['/soc/rtc@101000', 'interrupts'],
    ['/soc/rtc@101000', 'compatible'],
    ['/soc/test@100000', 'reg'],
    ['/soc/test@100000', 'compatible'],
    ['/soc/plic@c000000', 'reg'],
    ['/soc/plic@c000000', 'compatible'],
    ['/soc/plic@c000000', '#interrupt-cells'],
    ['/soc/clint@2000000', 'reg'],
    ['/soc/clint@2000000', 'compatible'],
  ];
  for (let i = 0; i < 8; i++) {
    const node = `/soc/virtio_mmio@${(0x10001000 + 0x1000 * i).toString(16)}`;
    same.push([node, 'reg'], [node, 'interrupts'], [node, 'compatible']);
  }
  for (const [node, prop] of same) {
    assert.equal(fdtget(ours, node, prop), fdtget(qemuDtb, node, prop), `${node} ${prop}`);
  }
  // interrupts-extended: same interrupt numbers per hart (phandle values may differ).
  for (const node of ['/soc/plic@c000000', '/soc/clint@2000000']) {
    const codes = (f: string) =>
      fdtget(f, node, 'interrupts-extended')
        .split(' ')
        .filter((_, i) => i % 2 === 1);
    assert.deepEqual(codes(ours), codes(qemuDtb), node);
  }
  // regmap of poweroff points at the test device in both.
  for (const f of [ours, qemuDtb]) {
    assert.equal(fdtget(f, '/poweroff', 'regmap'), fdtget(f, '/soc/test@100000', 'phandle'));
  }
});
