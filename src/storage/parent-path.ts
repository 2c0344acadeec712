/**
 * Turning the parent path a VHD or VHDX differencing disk records into names the host can open. Images
 * from Windows name their parent with Windows paths: relative ones (".\\base.vhd",
 * "..\\dir\\base.vhd") work anywhere once the separators are turned around; absolute ones
 * ("C:\\VMs\\base.vhd", "\\\\server\\share\\base.vhd") name a place on another machine, so joining
 * them onto the child's directory (what a POSIX host does with "C:/VMs/base.vhd") finds nothing.
 * For those we look for the file's name beside the child, where a copied disk chain usually is.
 */

export interface ParentCandidate {
  /** The name handed to openBacking (relative names are resolved beside the child by the host). */
  name: string;
  /** Where the name came from, for errors: 'W2ru locator "..\\\\a.vhd"'. */
  source: string;
}

/** A drive-letter path (C:\\ or C:/), a UNC path (\\\\server\\share) or a \\\\?\\ device path. */
export function isWindowsAbsolute(p: string): boolean {
  return /^[A-Za-z]:[\\/]/.test(p) || /^[\\/]{2}[^\\/]/.test(p);
}

function baseName(p: string): string {
  return p.slice(Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\')) + 1);
}

/**
 * The names to try for one path as written in the image (`raw`, from `source`). A POSIX absolute
 * path (a MacX file URL) or a relative one is tried as is; a Windows absolute path by its base
 * name beside the child.
 */
export function parentCandidates(raw: string, source: string): ParentCandidate[] {
  const shown = `${source} "${raw}"`;
  if (raw === '') return [];
  if (isWindowsAbsolute(raw)) {
    const base = baseName(raw);
    return base ? [{ name: base, source: `${shown} (a Windows path: looked for as "${base}" beside the child)` }] : [];
  }
  // Relative Windows paths: turn the separators, drop leading ".\\" (the host resolves relative names).
  const name = raw.replace(/\\/g, '/').replace(/^(\.\/)+/, '');
  return name ? [{ name, source: shown }] : [];
}
