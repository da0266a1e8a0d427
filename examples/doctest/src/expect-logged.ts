import { formatWithOptions } from 'node:util';

/**
 * What a README line `console.log(expr); //=> text` becomes under the doc-test: prints the value as
 * `console.log` would (on one line) and fails the block when it differs from the stated output.
 */
export function expectLogged(values: readonly unknown[], stated: string): void {
  // console.log's own formatting of its arguments (util.format), kept on one line.
  const printed = formatWithOptions({ breakLength: Infinity }, ...values);
  console.log(printed);
  if (printed !== stated) throw new Error(`the README states the output ${JSON.stringify(stated)} but the code printed ${JSON.stringify(printed)}`);
}
