/**
 * A bar chart as an SVG string: one bar per value (candidates 0…N−1), bars below zero drawn
 * downwards, chosen bars outlined, an optional second series (e.g. the soft P) as dots on [0, 1].
 */
export interface Bars {
  values: readonly number[];
  /** Indices drawn in the highlight colour (e.g. the relevant document). */
  highlight?: readonly number[];
  /** Indices outlined (e.g. the top-k choice). */
  outlined?: readonly number[];
  /** A second series on its own [0, 1] scale, drawn as dots. */
  dots?: readonly number[];
  label: string;
}

const WIDTH = 460;
const HEIGHT = 180;
const PAD = 24;

export function barChart(bars: Bars): string {
  const n = bars.values.length;
  const largest = Math.max(1e-12, ...bars.values.map(Math.abs));
  const zero = HEIGHT / 2;
  const slot = (WIDTH - 2 * PAD) / Math.max(n, 1);
  const parts = bars.values.map((v, i) => {
    const h = (Math.abs(v) / largest) * (HEIGHT / 2 - PAD);
    const x = PAD + i * slot + 2;
    const fill = bars.highlight?.includes(i) ? '#2ca02c' : '#1f77b4';
    const stroke = bars.outlined?.includes(i) ? ' stroke="#d62728" stroke-width="3"' : '';
    const title = `<title>candidate ${i}: ${v.toPrecision(4)}${bars.dots ? `, P = ${bars.dots[i]!.toFixed(3)}` : ''}</title>`;
    return `<rect class="bar" data-index="${i}" data-value="${v}" x="${x.toFixed(1)}" y="${(v >= 0 ? zero - h : zero).toFixed(1)}" width="${(slot - 4).toFixed(1)}" height="${h.toFixed(1)}" fill="${fill}"${stroke}>${title}</rect>`;
  });
  const dots = (bars.dots ?? []).map(
    (p, i) =>
      `<circle class="dot" cx="${(PAD + (i + 0.5) * slot).toFixed(1)}" cy="${(HEIGHT - PAD - p * (HEIGHT - 2 * PAD)).toFixed(1)}" r="3.5" fill="#ff7f0e"/>`,
  );
  const axis = `<line x1="${PAD}" x2="${WIDTH - PAD}" y1="${zero}" y2="${zero}" stroke="#555"/>`;
  const legend = `<text x="${PAD}" y="14" font-size="12">${bars.label} (largest |value| ${largest.toPrecision(3)})</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${bars.label}">${legend}${axis}${parts.join('')}${dots.join('')}</svg>`;
}
