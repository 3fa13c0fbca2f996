/**
 * The inbound message on JetStream, version 1: the body is the original Nimbus request body, byte for
 * byte; event id, clinic, event name and receipt time travel in headers (MessageHeaders), with the W3C
 * trace context. A consumer refuses a message whose schema header it does not know.
 */
export const INBOUND_SCHEMA_V1 = 'switchyard.inbound.v1';
