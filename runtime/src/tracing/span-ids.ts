const SHARED = Buffer.allocUnsafe(16);

/** A random W3C trace id: 32 lowercase hex characters, never all zeros. */
export function randomTraceId(): string {
  return randomHex(16);
}

/** A random W3C span id: 16 lowercase hex characters, never all zeros. */
export function randomSpanId(): string {
  return randomHex(8);
}

// Math.random, as the SDK's RandomIdGenerator: ids need to be unique, not secret.
function randomHex(bytes: number): string {
  let any = 0;
  for (let i = 0; i < bytes; i += 4) {
    const word = (Math.random() * 0x1_0000_0000) >>> 0;
    any |= word;
    SHARED.writeUInt32BE(word, i);
  }
  if (any === 0) SHARED[bytes - 1] = 1;
  return SHARED.toString("hex", 0, bytes);
}
