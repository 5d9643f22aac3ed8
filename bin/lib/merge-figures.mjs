// Merging the figures of each benchmark into one document: one name, one figure.

/**
 * Adds `figures` (what the benchmark `file` printed) into `into`, remembering in `owners` which file
 * gave each name. A name another benchmark already gave is not overwritten: it is returned, so the
 * run can report the clash instead of silently keeping whichever ran last.
 * @param {Record<string, unknown>} into
 * @param {Record<string, unknown>} figures
 * @param {string} file
 * @param {Map<string, string>} owners
 * @returns {string[]} the clashes, as "<name> (also reported by <file>)"
 */
export function mergeFigures(into, figures, file, owners) {
  const clashes = [];
  for (const [name, value] of Object.entries(figures)) {
    const owner = owners.get(name);
    if (owner !== undefined && owner !== file) {
      clashes.push(`${name} (also reported by ${owner})`);
      continue;
    }
    owners.set(name, file);
    into[name] = value;
  }
  return clashes;
}
