/** The one place that reads the time. Everything else takes a Clock. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * A clock that moves only when told to; for tests at exact expiry and grace boundaries.
 * @example const clock = manualClock(Date.parse('2026-01-01T00:00:00Z')); clock.advance(10_000);
 */
export function manualClock(start: number): Clock & { advance(ms: number): void; set(ms: number): void } {
  let current = start;
  return {
    now: () => current,
    advance: (ms) => { current += ms; },
    set: (ms) => { current = ms; },
  };
}

/** Seconds since the epoch, as JWT claims count them. */
export function epochSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}
