/**
 * QEMU's spellings in `virtkit run`: the same-meaning ones are accepted, the others refused with
 * the virtkit command line that does the same.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from './args.ts';
import { QEMU_RUN_FLAGS } from './qemu-habits.ts';
import { LINUX_FLAGS } from './run-linux.ts';

const parse = (argv: string[]) => parseArgs(argv, LINUX_FLAGS, {}, { foreign: QEMU_RUN_FLAGS });

test('-m, -smp, -kernel, -initrd, -append, -bios are accepted; -nographic is ignored', () => {
  const a = parse(['-m', '1G', '-smp', '2', '-bios', 'fw_jump.bin', '-kernel', 'k', '-initrd', 'i', '-append', 'console=ttyS0', '-nographic']);
  assert.deepEqual(a.flags, { memory: '1G', cpus: '2', firmware: 'fw_jump.bin', kernel: 'k', initrd: 'i', append: 'console=ttyS0' });
  assert.deepEqual(a.positional, []);
});

test('every accepted QEMU spelling maps to a flag virtkit run has', () => {
  for (const [name, f] of Object.entries(QEMU_RUN_FLAGS))
    if ('as' in f) assert.ok(f.as in LINUX_FLAGS, `-${name} -> --${f.as}`);
});

test('-drive, -hda, -netdev, -nic name the virtkit flag with the value translated', () => {
  assert.throws(
    () => parse(['-drive', 'file=d.qcow2,format=qcow2,if=virtio,readonly=on']),
    /unknown option '-drive' \(QEMU's spelling\): did you mean '--disk d\.qcow2,format=qcow2,readonly'\?/,
  );
  assert.throws(() => parse(['-hda', 'd.img']), /did you mean '--disk d\.img'\?/);
  assert.throws(
    () => parse(['-netdev', 'user,id=n0,hostfwd=tcp::8080-:80']),
    /did you mean '--net user,hostfwd=tcp::8080-:80'\?/,
  );
  assert.throws(() => parse(['-nic', 'user,model=virtio-net-pci']), /did you mean '--net user'\?/);
});

test('-cpu is --cpu (its model names are checked by virtkit run)', () => {
  assert.deepEqual(parse(['-cpu', 'max']).flags, { cpu: 'max' });
});

test('-M, -machine, -serial, -enable-kvm say why virtkit has no such choice', () => {
  assert.throws(() => parse(['-M', 'virt']), /one board.*drop it/);
  assert.throws(() => parse(['-machine', 'virt']), /one board/);
  assert.throws(() => parse(['-serial', 'mon:stdio']), /always this terminal/);
  assert.throws(() => parse(['-enable-kvm']), /without accelerators/);
});
