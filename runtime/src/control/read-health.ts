/**
 * The health of one kind of read from the collector (settings, usage), for logging. Guarantee: a
 * run of failures of one kind is logged once, however long it lasts, and the recovery once; a
 * different kind of failure (a refused key after an outage) is logged when it starts.
 */
export class ReadHealth {
  #problem: string | undefined;

  readonly #log: (line: string) => void;

  constructor(log: (line: string) => void) {
    this.#log = log;
  }

  /** True while the last read failed. */
  get failing(): boolean {
    return this.#problem !== undefined;
  }

  /** Notes a failure of kind `key`; logs `line()` unless the same kind is already reported. */
  failed(key: string, line: () => string): void {
    if (this.#problem === key) return;
    this.#problem = key;
    this.#log(line());
  }

  /** Notes a success; logs `line()` when it ends a run of failures. */
  succeeded(line: () => string): void {
    if (this.#problem === undefined) return;
    this.#problem = undefined;
    this.#log(line());
  }
}
