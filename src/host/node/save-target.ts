/**
 * The file `--save-on-exit` will write, checked when the VM starts rather than when it quits: a
 * snapshot that cannot be written is otherwise only noticed after the session it was meant to
 * keep. The snapshot is written to FILE.tmp and renamed over FILE, so what must hold is that
 * FILE's directory exists and takes new files, and that FILE, if it exists, is a regular file.
 * FILE itself is neither created nor truncated here.
 */
import { open, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

const code = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/** Why a snapshot could not be written to `file` (a one-line message naming it), or undefined. */
export async function saveTargetProblem(file: string): Promise<string | undefined> {
  const path = resolve(file);
  const dir = dirname(path);
  try {
    if (!(await stat(path)).isFile()) return `'${file}' exists and is not a regular file`;
  } catch (e) {
    if (code(e) !== 'ENOENT') return `'${file}': ${code(e)}`;
  }
  try {
    if (!(await stat(dir)).isDirectory()) return `'${file}': ${dir} is not a directory`;
  } catch (e) {
    return `'${file}': directory ${dir} ${code(e) === 'ENOENT' ? 'does not exist' : code(e)}`;
  }
  // A file is really created and removed: access(W_OK) says yes to root in directories no file
  // can be created in (procfs, sysfs).
  const probe = join(dir, `.${basename(path)}.virtkit-probe-${process.pid}`);
  try {
    await (await open(probe, 'wx')).close();
  } catch (e) {
    return `'${file}': cannot create files in ${dir} (${code(e)})`;
  }
  await unlink(probe).catch(() => {});
  return undefined;
}
