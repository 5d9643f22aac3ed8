import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm, unlink } from "node:fs/promises";
import { join } from "node:path";
import { assertBlobKey } from "./blob-store.js";
import type { BlobStore } from "./blob-store.js";

/**
 * A BlobStore in a directory: one file per key, fanned out into 256 subdirectories. A put writes a
 * temporary file, fsyncs it, renames it over the target and fsyncs the directory, so after a crash
 * the key holds the old bytes or the new ones, never a torn file.
 */
export class FileBlobStore implements BlobStore {
  readonly directory: string;
  readonly #fsync: boolean;
  readonly #made = new Set<string>();

  /** `fsync: false` skips the fsyncs (tests, throwaway data): still atomic against readers, not against power loss. */
  constructor(directory: string, options: { fsync?: boolean } = {}) {
    this.directory = directory;
    this.#fsync = options.fsync ?? true;
  }

  #dir(key: string): string {
    return join(this.directory, key.slice(0, 2).padEnd(2, "_"));
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    assertBlobKey(key);
    try {
      return await readFile(join(this.#dir(key), key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    assertBlobKey(key);
    const dir = this.#dir(key);
    if (!this.#made.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.#made.add(dir);
    }
    const target = join(dir, key);
    const temp = join(dir, `.${key}.${randomBytes(6).toString("hex")}.tmp`);
    const file = await open(temp, "wx", 0o600);
    try {
      await file.writeFile(value);
      if (this.#fsync) await file.sync();
    } catch (error) {
      await file.close();
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    await file.close();
    try {
      await rename(temp, target);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    if (this.#fsync) await syncDirectory(dir);
  }

  async delete(key: string): Promise<void> {
    assertBlobKey(key);
    await rm(join(this.#dir(key), key), { force: true });
    if (this.#fsync) await syncDirectory(this.#dir(key)).catch(() => undefined);
  }

  async close(): Promise<void> {}
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
