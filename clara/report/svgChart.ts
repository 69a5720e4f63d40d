/**
 * A small line-chart writer for the demo's run folder: plain SVG, no dependencies, readable in any
 * browser. Each panel has its own axes; series are polylines, reference values dashed horizontal
 * lines, phases shaded bands of steps. The legend sits below the axes, so it covers no data.
 */
interface Series {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Fixed y range (e.g. [0, 1] for recall); default: the data's. */
  yRange?: readonly [number, number];
  /** Constant values to compare with (chance, a baseline), drawn dashed across the panel. */
  references?: ReadonlyArray<{ name: string; y: number }>;
  /** Spans of x to mark (e.g. the steps a module is held still), shaded and named in the legend. */
  phases?: ReadonlyArray<{ name: string; from: number; to: number }>;
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const WIDTH = 460;
/** The plot's height; each panel's legend adds LEGEND_ROW per entry below it. */
const HEIGHT = 300;
const LEGEND_ROW = 16;
const MARGIN = { left: 58, right: 16, top: 34, bottom: 46 };
const PHASE_FILL = '#f2e6c9';

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Round tick values: 1, 2 or 5 times a power of ten. */
function ticks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo || 1;
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function legendEntries(panel: Panel): number {
  return panel.series.length + (panel.references?.length ?? 0) + (panel.phases?.length ?? 0);
}

function panelSvg(panel: Panel, offsetX: number): string {
  const all = panel.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = all.map(([x]) => x);
  const ys = [...all.map(([, y]) => y), ...(panel.references ?? []).map((r) => r.y)];
  const [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  const [y0, y1] = panel.yRange ?? (ys.length ? [Math.min(0, ...ys), Math.max(...ys)] : [0, 1]);
  const w = WIDTH - MARGIN.left - MARGIN.right;
  const h = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x: number) => MARGIN.left + ((Math.min(Math.max(x, x0), x1) - x0) / (x1 - x0 || 1)) * w;
  const sy = (y: number) => MARGIN.top + h - ((y - y0) / (y1 - y0 || 1)) * h;
  const parts: string[] = [`<g transform="translate(${offsetX},0)">`];
  parts.push(`<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(panel.title)}</text>`);
  // Phases first, so that the grid and the lines are drawn over them.
  for (const phase of panel.phases ?? []) {
    parts.push(`<rect x="${sx(phase.from)}" y="${MARGIN.top}" width="${sx(phase.to) - sx(phase.from)}" height="${h}" fill="${PHASE_FILL}"/>`);
  }
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${w}" height="${h}" fill="none" stroke="#999"/>`);
  for (const t of ticks(y0, y1)) {
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + w}" y1="${sy(t)}" y2="${sy(t)}" stroke="#eee"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${sy(t) + 4}" text-anchor="end" font-size="11">${t}</text>`);
  }
  for (const t of ticks(x0, x1)) parts.push(`<text x="${sx(t)}" y="${MARGIN.top + h + 16}" text-anchor="middle" font-size="11">${t}</text>`);
  parts.push(`<text x="${MARGIN.left + w / 2}" y="${MARGIN.top + h + 34}" text-anchor="middle" font-size="12">${escapeXml(panel.xLabel)}</text>`);
  parts.push(`<text transform="translate(14,${MARGIN.top + h / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(panel.yLabel)}</text>`);

  // The legend, one entry per row below the axes: series, then references, then phases.
  let row = 0;
  const legend = (mark: string, name: string) => {
    const ly = HEIGHT + 8 + row++ * LEGEND_ROW;
    parts.push(mark.replaceAll('LY', String(ly - 4)).replaceAll('RY', String(ly - 10)));
    parts.push(`<text x="${MARGIN.left + 24}" y="${ly}" font-size="11">${escapeXml(name)}</text>`);
  };
  panel.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`);
    if (pts.length > 1) parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="1.6" points="${pts.join(' ')}"/>`);
    else if (pts.length === 1) parts.push(`<circle cx="${pts[0]!.split(',')[0]}" cy="${pts[0]!.split(',')[1]}" r="3" fill="${colour}"/>`);
    legend(`<line x1="${MARGIN.left}" x2="${MARGIN.left + 18}" y1="LY" y2="LY" stroke="${colour}" stroke-width="2"/>`, s.name);
  });
  (panel.references ?? []).forEach((r, i) => {
    const colour = COLOURS[(panel.series.length + i) % COLOURS.length];
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + w}" y1="${sy(r.y)}" y2="${sy(r.y)}" stroke="${colour}" stroke-width="1.2" stroke-dasharray="5,4"/>`,
    );
    legend(`<line x1="${MARGIN.left}" x2="${MARGIN.left + 18}" y1="LY" y2="LY" stroke="${colour}" stroke-width="1.2" stroke-dasharray="5,4"/>`, r.name);
  });
  for (const phase of panel.phases ?? []) legend(`<rect x="${MARGIN.left}" y="RY" width="18" height="10" fill="${PHASE_FILL}" stroke="#ccb"/>`, phase.name);
  parts.push('</g>');
  return parts.join('\n');
}

/** Panels side by side in one SVG document. */
export function chartSvg(panels: readonly Panel[]): string {
  const width = WIDTH * panels.length;
  const height = HEIGHT + 8 + Math.max(0, ...panels.map(legendEntries)) * LEGEND_ROW;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...panels.map((p, i) => panelSvg(p, i * WIDTH)),
    '</svg>',
  ].join('\n');
}
