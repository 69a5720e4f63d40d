import { chartSvg, type Panel } from '../report/svgChart.ts';

/**
 * The sweep's plots: for each swept option, one SVG with a panel per metric (a row of panels per
 * metric group: recall, EM, F1, memory and time), the metric's mean over the seeds against the
 * option's values. Each other setting of the swept options is its own line, so that an
 * interaction (the MSE term at each compression rate) shows as lines that part. Text values
 * (estimators) are placed at 0, 1, 2… and named in the axis label; numbers spanning a factor of 8
 * or more (compression rates) on a log₂ axis. The panels are the demo chart's (report/svgChart.ts).
 */
interface PlotRow {
  options: Readonly<Record<string, string | number | boolean>>;
  metrics: Readonly<Record<string, { mean: number }>>;
}

interface PlotMetric {
  key: string;
  label: string;
  group: string;
}

/** [option, SVG] for each swept option. */
export function sweepPlots(summary: { swept: readonly string[]; rows: readonly PlotRow[] }, metrics: readonly PlotMetric[]): Array<[string, string]> {
  return summary.swept.map((option) => [option, optionPlot(option, summary.swept, summary.rows, metrics)]);
}

function optionPlot(option: string, swept: readonly string[], rows: readonly PlotRow[], metrics: readonly PlotMetric[]): string {
  const { position, xLabel } = axis(option, rows);
  const others = swept.filter((k) => k !== option);
  const lines = new Map<string, PlotRow[]>();
  for (const row of rows) {
    const name = others.map((k) => `${k}=${row.options[k]}`).join(', ') || 'mean over seeds';
    lines.set(name, [...(lines.get(name) ?? []), row]);
  }
  // Lines along which the option varies; single points only when no line has two.
  const varying = [...lines].filter(([, rs]) => new Set(rs.map((r) => r.options[option])).size > 1);
  const shown = varying.length > 0 ? varying : [...lines];
  const groups = [...new Set(metrics.map((m) => m.group))];
  const charts = groups.map((group) =>
    chartSvg(
      metrics
        .filter((m) => m.group === group)
        .map(
          (m): Panel => ({
            title: m.label,
            xLabel,
            yLabel: m.label,
            yRange: group === 'memory and time' ? undefined : [0, 1],
            series: shown.map(([name, rs]) => ({
              name,
              points: rs.map((r) => [position(r.options[option]!), r.metrics[m.key]!.mean] as const).sort((a, b) => a[0] - b[0]),
            })),
          }),
        ),
    ),
  );
  return stack(
    `Each metric against ${option}`,
    charts.map((chart, i) => ({ svg: chart, title: `${groups[i]} against ${option}` })),
  );
}

/** Where each value of the option sits on the x axis, and the axis label that says so. */
function axis(option: string, rows: readonly PlotRow[]): { position: (v: string | number | boolean) => number; xLabel: string } {
  const values = [...new Set(rows.map((r) => r.options[option]!))];
  if (!values.every((v) => typeof v === 'number')) {
    // Short enough to fit under a panel: the option's last name, each value cut to 9 characters.
    const short = (v: string | number | boolean) => (String(v).length > 9 ? `${String(v).slice(0, 8)}.` : String(v));
    return { position: (v) => values.indexOf(v), xLabel: `${option.split('.').pop()}: ${values.map((v, i) => `${i} ${short(v)}`).join(', ')}` };
  }
  const numbers = values as number[];
  const [lo, hi] = [Math.min(...numbers), Math.max(...numbers)];
  if (lo > 0 && hi / lo >= 8) {
    const named = [...numbers].sort((a, b) => a - b).map((v) => `${Number(Math.log2(v).toFixed(2))} = ${v}`);
    return { position: (v) => Math.log2(v as number), xLabel: `log₂ ${option} (${named.join(', ')})` };
  }
  return { position: (v) => v as number, xLabel: option };
}

/**
 * SVG documents one above another, in one SVG (each nested whole, at its own offset), each with a
 * title (the text a screen reader gives for it).
 */
function stack(title: string, charts: ReadonlyArray<{ svg: string; title: string }>): string {
  const size = (svg: string) => {
    const m = /<svg[^>]* width="(\d+)" height="(\d+)"[^>]*>/.exec(svg)!;
    return { width: Number(m[1]), height: Number(m[2]), tag: m[0] };
  };
  const width = Math.max(...charts.map((c) => size(c.svg).width));
  let y = 0;
  const parts = charts.map((chart) => {
    const { height, tag } = size(chart.svg);
    const placed = chart.svg.replace(tag, `${tag.replace('<svg ', `<svg x="0" y="${y}" `)}\n<title>${escapeXml(chart.title)}</title>`);
    y += height;
    return placed;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${width}" height="${y}" fill="white"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
