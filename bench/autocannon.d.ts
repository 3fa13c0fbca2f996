/** autocannon 8 ships no types; the bench uses only the programmatic call and its result fields. */
declare module 'autocannon' {
  function autocannon(options: Record<string, unknown>): Promise<any>;
  export = autocannon;
}
