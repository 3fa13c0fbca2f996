/**
 * NATS names. Every name starts with a prefix (default `switchyard`) so that tests and environments can
 * share one NATS server; subjects carry a contract version.
 */
export interface Subjects {
  /** Stream that stores inbound events. */
  inboundStream: string;
  /** Durable consumer of the fan-out service on the inbound stream. */
  fanoutConsumer: string;
  /** Subject filter of the inbound stream. */
  inboundWildcard: string;
  /** Subject an event of one clinic is published on. */
  inbound(clinicId: string): string;
  /**
   * Start of the placeholder subject an inbound stream is created on while it is numbered (ensureStreams):
   * inside the prefix (so a NATS user limited to it may create it), outside `inboundWildcard`.
   */
  numberingPrefix: string;
}

/** Clinic ids become subject tokens: only these characters are allowed, so `.`, `*`, `>` cannot be injected. */
const SUBJECT_TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

export function isSafeSubjectToken(token: string): boolean {
  return SUBJECT_TOKEN.test(token);
}

export function subjectsFor(prefix: string): Subjects {
  const streamPrefix = prefix.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  return {
    inboundStream: `${streamPrefix}_IN`,
    fanoutConsumer: 'fanout',
    inboundWildcard: `${prefix}.in.v1.>`,
    numberingPrefix: `${prefix}.numbering.`,
    inbound(clinicId: string) {
      if (!isSafeSubjectToken(clinicId)) throw new Error(`clinic id is not a safe subject token`);
      return `${prefix}.in.v1.${clinicId}`;
    },
  };
}

/** Headers carried on inbound messages. */
export const MessageHeaders = {
  eventId: 'Switchyard-Event-Id',
  clinicId: 'Switchyard-Clinic-Id',
  eventName: 'Switchyard-Event-Name',
  receivedAt: 'Switchyard-Received-At',
  schema: 'Switchyard-Schema',
} as const;
