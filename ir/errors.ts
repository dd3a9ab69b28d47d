// Errors are values with a place: every user-facing failure names where it happened (node, op) and why.

export interface ErrorPlace {
  node?: string;
  op?: string;
  file?: string;
}

/** A failure caused by the user's input (model, text, artifact, arguments): printed without a stack trace. */
export class TesseraError extends Error {
  readonly place: ErrorPlace;
  readonly reason: string;
  constructor(reason: string, place: ErrorPlace = {}) {
    super(formatError(reason, place));
    this.name = 'TesseraError';
    this.reason = reason;
    this.place = place;
  }
  /** Returns a copy with extra place information (inner fields win). */
  at(place: ErrorPlace): TesseraError {
    return new TesseraError(this.reason, { ...place, ...this.place });
  }
}

function formatError(reason: string, place: ErrorPlace): string {
  const where: string[] = [];
  if (place.file) where.push(place.file);
  if (place.node !== undefined || place.op !== undefined) {
    where.push(`node '${place.node ?? '?'}' (${place.op ?? '?'})`);
  }
  return where.length ? `${where.join(': ')}: ${reason}` : reason;
}

/** Throws a TesseraError; use inside op definitions where the node/op are attached by the caller. */
export function fail(reason: string, place?: ErrorPlace): never {
  throw new TesseraError(reason, place);
}

export function check(cond: unknown, reason: string | (() => string), place?: ErrorPlace): asserts cond {
  if (!cond) throw new TesseraError(typeof reason === 'function' ? reason() : reason, place);
}
