/** Entry point of the single `weft` bundle. */
import { main } from './cli.ts';

main(process.argv).catch((err: unknown) => {
  console.error(`weft: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
