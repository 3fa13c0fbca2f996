/** A pino destination that keeps every log line in memory, so a test can assert what was (not) logged. */
export class LogCapture {
  readonly lines: string[] = [];

  write(line: string): void {
    this.lines.push(line);
  }

  /** The captured lines that contain any of the given strings. */
  linesContaining(needles: string[]): string[] {
    return this.lines.filter((l) => needles.some((n) => n && l.includes(n)));
  }
}
