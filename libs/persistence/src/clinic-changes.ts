import { AUTH_CHANGES_CHANNEL } from './migrations';
import { PgListener, payloadFor } from './pg-listener';

export interface ClinicChangesOptions {
  /** The process's listening connection; without one (admin) changes are never heard. */
  listener?: PgListener;
  /** The schema whose changes count (the trigger names it in each notification). */
  schema: string;
  /** How long an answer is kept while changes may go unheard (AUTH_CACHE_TTL). */
  ttlMs: number;
  /** How long while every change is heard (AUTH_CACHE_MAX_AGE): a safety net, not the mechanism. Not above ttlMs: no listening. */
  maxAgeMs: number;
}

/**
 * Changes to what admits a clinic's events (its keys, its enabled flag, its ingress limits), announced at
 * commit by the triggers of migration 1764440000000, for the caches of those answers: they keep an answer
 * for maxAgeMs while the listening connection is up and forget a clinic's answers when it changes. While
 * the connection is down they keep answers for ttlMs only (what they cached may miss a change for that
 * long, as before there was a notification), and they start over when it is back.
 */
export class ClinicChanges {
  private readonly forgetters: Array<(clinicId: string) => void> = [];
  private readonly listener?: PgListener;

  constructor(private readonly options: ClinicChangesOptions) {
    if (options.maxAgeMs <= options.ttlMs) return;
    this.listener = options.listener;
    this.listener?.on(AUTH_CHANGES_CHANNEL, (payload) => {
      const clinicId = payloadFor(options.schema, payload);
      if (clinicId !== null) this.changed(clinicId);
    });
    // Whatever was cached before (or while) not listening may have missed a change.
    this.listener?.watch((listening) => listening && this.changed('*'));
  }

  get isListening(): boolean {
    return this.listener?.isListening ?? false;
  }

  get ttlMs(): number {
    return this.options.ttlMs;
  }

  /** How long an answer may be kept now (asked at each read: it shortens as soon as the connection is lost). */
  keepForMs(): number {
    return this.isListening ? this.options.maxAgeMs : this.options.ttlMs;
  }

  /** Calls `forget` with the clinic of each change, or `*` when every clinic's answers must go. */
  onChange(forget: (clinicId: string) => void): void {
    this.forgetters.push(forget);
  }

  private changed(clinicId: string): void {
    this.forgetters.forEach((forget) => forget(clinicId));
  }
}
