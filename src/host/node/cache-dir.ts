/** Where virtkit keeps downloaded guests and other caches: $VIRTKIT_CACHE, else $XDG_CACHE_HOME/virtkit, else ~/.cache/virtkit. */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function cacheDir(): string {
  if (process.env.VIRTKIT_CACHE) return process.env.VIRTKIT_CACHE;
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg.length > 0 ? xdg : join(homedir(), '.cache'), 'virtkit');
}
