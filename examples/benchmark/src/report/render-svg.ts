import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/**
 * A vega-lite spec as an SVG string, rendered headless by vega's own SVG renderer (`view.toSVG()`):
 * no browser, no canvas, no network (all data is inline).
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = compile({ ...spec, background: 'white', config: { font: 'sans-serif' } }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.Warn });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
