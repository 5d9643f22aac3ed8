// A lint rule that fails on any import cycle between a package's own files, type-only imports and
// re-exports included. import-x/no-cycle skips `import type` (it guards only against runtime
// cycles, and has no option to do otherwise); a cycle through types still ties two files together,
// so neither can be read, moved or split without the other.
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import ts from "typescript";

/** Relative import targets of each file, with the mtime they were read at (a long-lived editor process sees edits). */
const importsByFile = new Map();

function resolveRelative(fromFile, specifier) {
  if (!specifier.startsWith(".")) return undefined;
  const base = resolve(dirname(fromFile), specifier);
  const candidates = [base.replace(/\.(m|c)?js$/, ".$1ts"), base.replace(/\.js$/, ".tsx"), base, `${base}.ts`, `${base}/index.ts`];
  return candidates.find((file) => existsSync(file) && statSync(file).isFile());
}

function importsOf(file) {
  const mtimeMs = statSync(file).mtimeMs;
  const cached = importsByFile.get(file);
  if (cached?.mtimeMs === mtimeMs) return cached.targets;
  const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
  const targets = [...new Set(importedFiles.map((i) => resolveRelative(file, i.fileName)).filter((t) => t !== undefined))];
  importsByFile.set(file, { mtimeMs, targets });
  return targets;
}

/** The import path from `start` back to `target` (start first), or undefined when there is none. */
function pathBack(start, target) {
  const cameFrom = new Map([[start, undefined]]);
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift();
    for (const next of importsOf(file)) {
      if (next === target) {
        const path = [file];
        for (let f = cameFrom.get(file); f !== undefined; f = cameFrom.get(f)) path.unshift(f);
        return path;
      }
      if (!cameFrom.has(next)) {
        cameFrom.set(next, file);
        queue.push(next);
      }
    }
  }
  return undefined;
}

/** Fails on an import, type-only or not, whose target leads back to the importing file. */
export const noImportCycle = {
  meta: { type: "problem", docs: { description: "Forbid import cycles between files, type-only imports included" }, schema: [] },
  create(context) {
    const file = context.physicalFilename;
    if (!existsSync(file)) return {};
    const check = (node) => {
      if (!node.source || typeof node.source.value !== "string") return;
      const target = resolveRelative(file, node.source.value);
      if (target === undefined || target === file) return;
      const path = pathBack(target, file);
      if (path === undefined) return;
      const cwd = context.cwd ?? process.cwd();
      context.report({ node, message: `Import cycle (type-only imports count): ${[file, ...path, file].map((f) => relative(cwd, f)).join(" → ")}` });
    };
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check };
  },
};

/** The plugin to register in eslint.config.js as `troupe`. */
export const troupePlugin = { rules: { "no-import-cycle": noImportCycle } };
