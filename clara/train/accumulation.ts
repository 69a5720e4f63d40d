/**
 * Gradient accumulation that gives exactly the update of one big batch.
 *
 * Each loss term is a mean over its own units in a micro-batch: the cross-entropy over supervised
 * answer tokens, the MSE over documents. Micro-batches hold different numbers of units (answers
 * differ in length), so scaling every micro-batch by 1/A would weight tokens unequally. Instead
 * term t of micro-batch i is scaled by its share of the step's units,
 *
 *     L_i = Σ_t  w_t · mean_{t,i} · u_{t,i} / U_t          U_t = Σ_i u_{t,i}
 *
 * so Σ_i L_i = Σ_t w_t · (mean of term t over the whole step) = the big batch's loss, and the sum
 * of the micro-batch gradients is the big batch's gradient.
 */

/** Per term, the units (tokens, documents…) it averages over in one micro-batch. */
export type Units = Readonly<Record<string, number>>;

/**
 * The coefficient of each term in each micro-batch's backward loss: w_t · u_{t,i} / U_t
 * (0 when the term has weight 0 or no units in the whole step).
 */
export function microBatchScales(units: readonly Units[], weights: Readonly<Record<string, number>>): Record<string, number>[] {
  const totals = totalUnits(units, Object.keys(weights));
  return units.map((u) =>
    Object.fromEntries(
      Object.entries(weights).map(([term, w]) => {
        const total = totals[term]!;
        return [term, w === 0 || total === 0 ? 0 : (w * (u[term] ?? 0)) / total];
      }),
    ),
  );
}

/** Σ_i u_{t,i} per term. */
function totalUnits(units: readonly Units[], terms: readonly string[]): Record<string, number> {
  return Object.fromEntries(terms.map((t) => [t, units.reduce((sum, u) => sum + (u[t] ?? 0), 0)]));
}

/**
 * The step's mean of each term from the micro-batch means, weighted by units: what one big batch
 * would have reported. A term with no units in the whole step is null.
 */
export function combineMeans(
  means: readonly Readonly<Record<string, number>>[],
  units: readonly Units[],
  terms: readonly string[],
): Record<string, number | null> {
  const totals = totalUnits(units, terms);
  return Object.fromEntries(
    terms.map((t) => {
      if (totals[t] === 0) return [t, null];
      let sum = 0;
      means.forEach((m, i) => {
        const u = units[i]![t] ?? 0;
        if (u > 0) sum += m[t]! * u;
      });
      return [t, sum / totals[t]!];
    }),
  );
}
