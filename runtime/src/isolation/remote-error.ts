/** Errors that cross the worker-thread boundary. */

/** An error as it crosses the thread boundary: the name, message and code survive. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

/** Turns anything thrown into a SerializedError (non-errors become an `Error` with their text). */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: String(error.name),
      message: String(error.message),
      ...(typeof code === "string" ? { code } : {}),
      ...(typeof error.stack === "string" ? { stack: error.stack } : {}),
    };
  }
  let message: string;
  try {
    message = String(error);
  } catch {
    message = "a value that cannot be converted to a string was thrown";
  }
  return { name: "Error", message };
}

/** Rebuilds an Error whose `name`, `message` (and `code`, when there was one) match the original. */
export function rehydrateError(serialized: SerializedError): Error {
  const error = new Error(serialized.message);
  error.name = serialized.name;
  if (serialized.code !== undefined) (error as Error & { code?: string }).code = serialized.code;
  if (serialized.stack !== undefined) error.stack = serialized.stack;
  return error;
}
