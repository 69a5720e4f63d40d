import { noGrad, tidy, type Tensor } from '../../engine/index.ts';

/**
 * How much of the compressed vectors differs from one document to the next:
 *
 *   share = Σ (x − x̄)² / Σ x²      over every document, memory token and dimension,
 *
 * where x̄ [n, d] is the mean over documents. 1 − share is the energy of what every document has
 * in common. A compressor that has collapsed (the generator ignores its memory slots, so its
 * training only learns to keep them quiet) drives the share towards 0, and then neither the
 * generator nor a cosine retriever can tell documents apart. A random, untrained compressor of
 * the demo's size starts near 0.5.
 *
 * bank [docs, n, d] → a number in [0, 1].
 */
export async function documentSpecificShare(bank: Tensor): Promise<number> {
  if (bank.shape.length !== 3 || bank.shape[0]! < 2) throw new Error(`documentSpecificShare: expected a bank [docs ≥ 2, n, d], got [${bank.shape.join(', ')}]`);
  const [spread, energy] = noGrad(() =>
    tidy(() => {
      const centred = bank.sub(bank.mean(0, true));
      return [centred.square().sum(), bank.square().sum()] as const;
    }),
  );
  const share = (await spread.item()) / (await energy.item());
  spread.dispose();
  energy.dispose();
  return share;
}
