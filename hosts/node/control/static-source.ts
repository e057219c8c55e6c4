/** A config source of fixed files (the embedded sample mesh): handed to the Store once. */
import type { SourceFile } from '../../../core/ports/index.ts';
import type { ConfigSource, SourceSink } from '../../../core/config/index.ts';

export class StaticSource implements ConfigSource {
  constructor(readonly id: string, private readonly files: readonly SourceFile[]) {}
  start(sink: SourceSink): void {
    sink.replaceFiles(this.files);
  }
  stop(): void {}
}
