/**
 * The idle and lifetime limits of a connection that went through: a tunnel or
 * a plain request ends when no byte moved for the idle limit, or when it has
 * lived for the lifetime limit, whichever comes first.
 */

/** Which limit ended a connection. */
export type Limit = "idle" | "lifetime";

export interface LimitWatch {
  /** Records traffic: the idle limit counts from now. */
  touch(): void;
  /** Stops watching; `expire` is not called after this. */
  stop(): void;
}

/**
 * Watches a relay for silence and age: calls `expire` once, with the limit
 * reached, when no `touch` came for `idleMs` or `lifetimeMs` passed since `started`.
 */
export function watchLimits(
  started: number,
  idleMs: number,
  lifetimeMs: number,
  expire: (limit: Limit) => void,
): LimitWatch {
  let last = Date.now();
  let idleTimer: NodeJS.Timeout;
  // One timer re-armed for the time left, rather than one reset per chunk: a busy relay touches thousands of times.
  const checkIdle = (): void => {
    const quiet = Date.now() - last;
    if (quiet >= idleMs) expire("idle");
    else idleTimer = setTimeout(checkIdle, idleMs - quiet);
  };
  idleTimer = setTimeout(checkIdle, idleMs);
  const lifetimeTimer = setTimeout(() => expire("lifetime"), Math.max(0, started + lifetimeMs - Date.now()));
  return {
    touch(): void {
      last = Date.now();
    },
    stop(): void {
      clearTimeout(idleTimer);
      clearTimeout(lifetimeTimer);
    },
  };
}
