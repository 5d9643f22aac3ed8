/**
 * The last settings a runtime read from the control plane, kept on disk so a restart while the
 * collector is down still runs on them. Guarantees: a write is atomic (a temporary file renamed
 * over the old one, mode 0600), so a reader sees the old or the new settings, never a mix; a file
 * that is unreadable, from another collector or for other tenants is ignored (with the reason);
 * the file never holds the API key (its default name is a hash of the collector URL and the key).
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { z } from "zod";
import { controlSettingsResponseSchema, type ControlSettingsResponse } from "@troupe/contract";

/** Settings as cached, with when they were read from the collector. */
export interface CachedSettings {
  readonly savedAtMs: number;
  readonly settings: ControlSettingsResponse;
}

const cacheFileSchema = z.strictObject({
  format: z.literal(1),
  collectorUrl: z.string(),
  /** The `tenants` filter the settings were read with (null: every tenant of the key). */
  tenants: z.array(z.string()).nullable(),
  savedAt: z.iso.datetime(),
  settings: controlSettingsResponseSchema,
});

/** Where the settings of one collector, key and tenant filter are cached by default: ~/.cache/troupe/control-<hash>.json. */
export function defaultCachePath(collectorUrl: string, apiKey: string, tenants: readonly string[] | undefined): string {
  const keyHash = createHash("sha256").update(apiKey, "utf8").digest("hex");
  const id = createHash("sha256")
    .update(JSON.stringify([collectorUrl, keyHash, tenants ?? null]), "utf8")
    .digest("hex")
    .slice(0, 24);
  return join(homedir(), ".cache", "troupe", `control-${id}.json`);
}

/** One cache file. */
export class SettingsCache {
  readonly #collectorUrl: string;
  readonly #tenants: readonly string[] | undefined;

  constructor(
    readonly path: string,
    collectorUrl: string,
    tenants: readonly string[] | undefined,
  ) {
    this.#collectorUrl = collectorUrl;
    this.#tenants = tenants;
  }

  /** The cached settings; undefined when there is no file; the reason when it cannot be used. */
  async read(): Promise<CachedSettings | undefined | { problem: string }> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      if ((error as { code?: unknown }).code === "ENOENT") return undefined;
      return { problem: `the settings cache ${this.path} cannot be read (${(error as Error).message})` };
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { problem: `the settings cache ${this.path} is not JSON` };
    }
    const parsed = cacheFileSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return { problem: `the settings cache ${this.path} is invalid: ${issue.path.join(".") || "(root)"}: ${issue.message}` };
    }
    const file = parsed.data;
    if (file.collectorUrl !== this.#collectorUrl) return { problem: `the settings cache ${this.path} holds the settings of ${file.collectorUrl}, not ${this.#collectorUrl}` };
    if (JSON.stringify(file.tenants) !== JSON.stringify(this.#tenants ?? null)) return { problem: `the settings cache ${this.path} was written for other tenants` };
    return { savedAtMs: Date.parse(file.savedAt), settings: file.settings };
  }

  /** Replaces the cached settings atomically (mode 0600, directory 0700). */
  async write(settings: ControlSettingsResponse, savedAtMs: number): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    const body = JSON.stringify({ format: 1, collectorUrl: this.#collectorUrl, tenants: this.#tenants ?? null, savedAt: new Date(savedAtMs).toISOString(), settings });
    try {
      await writeFile(tmp, body, { mode: 0o600 });
      await rename(tmp, this.path);
    } catch (error) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw error;
    }
  }
}
