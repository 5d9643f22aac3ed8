// @troupe/runtime/state: what an agent keeps between turns — encrypted per tenant, under keys
// derived from (tenant, agent type, agent key) — and where it is kept; conversation memory.

/** Agent state encrypted per tenant (AES-256-GCM, tenant and agent bound as associated data). */
export type { AgentStateStore } from "./agent-state-store.js";
export { EncryptedStateStore } from "./encrypted-state-store.js";
export type { EncryptedStateStoreOptions } from "./encrypted-state-store.js";
export { MasterKeyring, parseMasterKey } from "./master-keyring.js";
export type { MasterKey, MasterKeyInput } from "./master-keyring.js";

/** Where sealed state blobs are kept: files in a directory, or a PostgreSQL table. */
export type { BlobStore } from "./blob-store.js";
export { FileBlobStore } from "./file-blob-store.js";
export { PostgresBlobStore } from "./postgres-blob-store.js";
export type { PostgresBlobStoreOptions } from "./postgres-blob-store.js";

/** A conversation's messages, bounded by a token budget, summarized when pruned, kept as state. */
export { ConversationMemory } from "../memory/conversation-memory.js";
export type { ConversationMemoryOptions, ConversationMemorySnapshot, Summarizer } from "../memory/conversation-memory.js";
