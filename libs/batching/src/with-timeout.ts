/**
 * `p`, or a rejection once `ms` have passed without its answer (`what`, when given, names the question in the
 * error). For calls that can hang rather than fail — a database behind a network that drops packets — where
 * the caller would rather give up and try again. `p` itself is not cancelled.
 */
export function withTimeout<T>(p: Promise<T>, ms: number, what?: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what ? `${what}: ` : ''}no answer within ${Math.round(ms)} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
