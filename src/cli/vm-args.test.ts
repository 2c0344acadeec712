/** `virtkit vm` argument parsing: the verb among connection flags, create's flags as the API's body. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import {
  VM_VERBS,
  checkName,
  createRequest,
  parseCreateDisk,
  parseCreateNet,
  parseVerb,
  positionals,
  splitVerb,
} from './vm-args.ts';

test('the verb is found before or after the connection flags', () => {
  assert.deepEqual(splitVerb(['list']), { verb: 'list', rest: [] });
  assert.deepEqual(splitVerb(['--socket', 's.sock', 'info', 'a']), { verb: 'info', rest: ['--socket', 's.sock', 'a'] });
  assert.deepEqual(splitVerb(['--url', 'http://h:1', '--token', 't', 'start', 'a']), {
    verb: 'start',
    rest: ['--url', 'http://h:1', '--token', 't', 'a'],
  });
  assert.deepEqual(splitVerb(['--state-dir=/x', 'list']), { verb: 'list', rest: ['--state-dir=/x'] });
  assert.deepEqual(splitVerb(['--help']), { verb: undefined, rest: ['--help'] });
});

test('create: memory, cpus, disks, NICs and boot sources become the API body', () => {
  const f = parseVerb(VM_VERBS.create, [
    'web',
    '--memory',
    '128',
    '--cpus',
    '2',
    '--disk',
    'size=1G',
    '--disk',
    'data.qcow2,format=qcow2,readonly',
    '--net',
    'user,hostfwd=tcp::8080-:80,hostfwd=udp::5353-:53',
    '--net',
    'user',
  ]);
  assert.deepEqual(positionals(f, ['NAME'], 'create'), ['web']);
  assert.deepEqual(createRequest('web', f.flags), {
    name: 'web',
    memory: 128,
    cpus: 2,
    disks: [{ size: 1024 }, { path: resolve('data.qcow2'), format: 'qcow2', readonly: true }],
    nics: [{ hostfwd: ['tcp::8080-:80', 'udp::5353-:53'] }, {}],
  });
  const k = parseVerb(VM_VERBS.create, [
    'k',
    '--kernel',
    'Image',
    '--initrd',
    'i.cpio',
    '--append',
    'console=ttyS0',
    '--memory',
    '1G',
  ]);
  assert.deepEqual(createRequest('k', k.flags), {
    name: 'k',
    memory: 1024,
    source: { type: 'kernel', kernel: resolve('Image'), initrd: resolve('i.cpio'), append: 'console=ttyS0' },
  });
  const i = parseVerb(VM_VERBS.create, ['d', '--image', 'deb.qcow2,format=qcow2']);
  assert.deepEqual(createRequest('d', i.flags), {
    name: 'd',
    source: { type: 'image', path: resolve('deb.qcow2'), format: 'qcow2' },
  });
  assert.deepEqual(createRequest('plain', parseVerb(VM_VERBS.create, ['plain']).flags), { name: 'plain' });
});

test('create refuses what the API cannot express, naming the problem', () => {
  const bad = (argv: string[], re: RegExp) =>
    assert.throws(() => createRequest('x', parseVerb(VM_VERBS.create, argv).flags), re, argv.join(' '));
  bad(['--memory', '100K'], /memory size '100K' is not a whole number of MiB/);
  bad(['--memory', 'lots'], /invalid memory size 'lots'/);
  bad(['--cpus', 'two'], /invalid --cpus 'two'/);
  bad(['--cpus', '0'], /invalid --cpus '0'/);
  bad(['--kernel', 'k', '--image', 'i'], /--kernel or --image, not both/);
  bad(['--append', 'quiet'], /--initrd and --append go with --kernel/);
  bad(['--net', 'switch=lan'], /a managed VM's NIC is 'user\[,hostfwd=\.\.\.\]\.\.\.'/);
  bad(['--net', 'user,restrict=on'], /'restrict=on' is for 'virtkit run' only/);
  bad(['--net', 'user,hostfwd=tcp::99999-:80'], /99999/);
  bad(['--image', 'x.img,readonly'], /--image 'x.img,readonly': expected FILE\[,format=FMT\]/);
  assert.throws(
    () => parseVerb(VM_VERBS.create, ['--memroy', '1G']),
    /unknown option '--memroy': did you mean '--memory'\?/,
  );
  assert.throws(
    () => parseVerb(VM_VERBS.list, ['--output', 'yaml']),
    /invalid --output 'yaml' \(expected table or json\)/,
  );
  assert.throws(() => parseVerb(VM_VERBS.info, ['--socket']), /option '--socket' needs a value/);
  assert.throws(() => createRequest('../etc', {}), /invalid VM name '\.\.\/etc'/);
});

test('--disk: an existing file or a new qcow2 of a size, never both', () => {
  assert.deepEqual(parseCreateDisk('size=512M,format=qcow2'), { size: 512, format: 'qcow2' });
  assert.deepEqual(parseCreateDisk('file=a.img,format=raw'), { path: resolve('a.img'), format: 'raw' });
  assert.throws(() => parseCreateDisk('a.img,size=1G'), /give a FILE or size=, not both/);
  assert.throws(() => parseCreateDisk('size=1G,format=raw'), /new disks are qcow2/);
  assert.throws(() => parseCreateDisk('size=1G,readonly'), /a new disk cannot be readonly/);
  assert.throws(() => parseCreateDisk('size=1500K'), /not a whole number of MiB/);
  assert.throws(() => parseCreateDisk('format=raw'), /missing file name or size=/);
  assert.throws(() => parseCreateDisk('a.img,cache=none'), /unknown option 'cache=none'/);
  assert.deepEqual(parseCreateNet('user'), {});
});

test('positional arguments: missing and extra ones are named', () => {
  const a = parseVerb(VM_VERBS.clone, ['a']);
  assert.throws(
    () => positionals(a, ['NAME', 'NEW'], 'clone'),
    /clone: missing NEW \(usage: virtkit vm clone NAME NEW\)/,
  );
  const b = parseVerb(VM_VERBS.info, ['a', 'b']);
  assert.throws(() => positionals(b, ['NAME'], 'info'), /info: unexpected argument 'b'/);
  assert.equal(checkName('a.b_c-1'), 'a.b_c-1');
  assert.throws(() => checkName('x'.repeat(64)), /invalid VM name/);
  assert.throws(() => checkName('-x'), /invalid VM name/);
});
