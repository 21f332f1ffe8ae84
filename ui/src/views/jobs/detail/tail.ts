// The last lines of a job's output: bytes come in chunks cut anywhere
// (even inside a UTF-8 sequence or a line), only the last `max` lines stay.
export class LineTail {
  private readonly decoder = new TextDecoder();
  private lines: string[] = [];
  private partial = '';
  /** lines dropped off the top so far */
  dropped = 0;

  constructor(private readonly max = 2000) {}

  push(bytes: Uint8Array): void {
    const text = this.partial + this.decoder.decode(bytes, { stream: true });
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    if (parts.length) this.lines.push(...parts);
    const over = this.lines.length - this.max;
    if (over > 0) {
      this.lines.splice(0, over);
      this.dropped += over;
    }
  }

  /** The lines kept, the unfinished last one included. */
  text(): string {
    const body = this.lines.join('\n');
    return this.partial ? (body ? `${body}\n${this.partial}` : this.partial) : body;
  }

  get count(): number {
    return this.lines.length + (this.partial ? 1 : 0);
  }
}
