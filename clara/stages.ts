import type { Generator } from '../engine/index.ts';
import type { Parameter } from '../engine/nn/index.ts';
import type { ClaraModel } from './claraModel.ts';
import { DECODER_ADAPTER } from './compressionLoss.ts';
import { ENCODER_ADAPTER } from './compressor.ts';

/**
 * What trains in each stage (spec §4–§6). Returns the parameters to hand to the optimiser, having
 * created the adapters the stage needs and set the embedding table's trainable rows.
 *
 * - stage 1: encoder_adapter and decoder_adapter (fresh if absent), and the `<MEMi>` rows of the
 *   embedding table only;
 * - stage 2: encoder_adapter continued, decoder_adapter re-created fresh, memory rows frozen;
 * - stage 3: see `prepareStage3` in stage3.ts (query reasoner and generator).
 */
export function prepareCompressionStage(clara: ClaraModel, stage: 1 | 2, generator: Generator): Parameter[] {
  const model = clara.backbone;
  const names = model.adapterNames();
  if (!names.includes(ENCODER_ADAPTER)) {
    if (stage === 2) throw new Error('stage 2 continues the compressor of stage 1, but this model has no encoder_adapter (train stage 1 first, or pass a stage-1 model)');
    model.addAdapter(ENCODER_ADAPTER, clara.settings.lora, generator);
  }
  if (stage === 2 && names.includes(DECODER_ADAPTER)) model.deleteAdapter(DECODER_ADAPTER);
  if (!model.adapterNames().includes(DECODER_ADAPTER)) model.addAdapter(DECODER_ADAPTER, clara.settings.lora, generator);

  const embedding = model.model.embedTokens.weight;
  const params = [...model.adapterParameters(ENCODER_ADAPTER), ...model.adapterParameters(DECODER_ADAPTER)].map(([, p]) => p);
  if (stage === 1) {
    embedding.requiresGrad_(true).setTrainableRows(clara.tokenizer.special.mem);
    params.push(embedding);
  } else {
    embedding.setTrainableRows(null).requiresGrad_(false);
  }
  return params;
}
