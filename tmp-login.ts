import { VirtkitSession } from './tests/support/virtkit.ts';
import { appendFileSync, writeFileSync, readFileSync, existsSync, unlinkSync } from 'node:fs';
writeFileSync('/tmp/dl.out', '');
const s = new VirtkitSession(['run', '--disk', '/tmp/dl.qcow2', '--memory', '1G', '--net', 'user,hostfwd=tcp:127.0.0.1:2298-:22'], 3600_000);
let n = 0;
setInterval(() => {
  appendFileSync('/tmp/dl.out', s.stdout.slice(n)); n = s.stdout.length;
  if (existsSync('/tmp/dl.cmd')) { const c = readFileSync('/tmp/dl.cmd', 'utf8'); unlinkSync('/tmp/dl.cmd'); s.send(c); }
}, 500);
await s.result;
appendFileSync('/tmp/dl.out', '\nSTDERR:' + s.stderr);
process.exit(0);
