/**
 * `latchkey/client`: what a browser or another Node program needs to talk to
 * a Latchkey server. It imports nothing from the server (a lint rule keeps it
 * so) and has no runtime dependency; today it carries the typed request and
 * response bodies and the error shape, shared with the server through
 * src/wire.ts.
 */
export * from '../wire.ts';
