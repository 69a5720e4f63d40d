import { Generator, type Parameter } from '../../engine/index.ts';
import type { ClaraModel } from '../claraModel.ts';
import { DECODER_ADAPTER } from '../compressionLoss.ts';
import { ENCODER_ADAPTER } from '../compressor.ts';
import { prepareCompressionStage } from '../stages.ts';

/**
 * The parameters a compression stage trains, named for the optimiser state:
 * `encoder_adapter.<PEFT key>`, `decoder_adapter.<PEFT key>` and, in stage 1,
 * `model.embed_tokens.weight` (only its `<MEMi>` rows train).
 *
 * A fresh stage goes through `prepareCompressionStage` (which creates the adapters the stage needs,
 * drawing LoRA A from `generator`). A resumed stage must not: stage 2 re-creates the generator
 * adapter, which would throw away the steps already taken, so it only collects what is there.
 */
export function compressionStageParameters(clara: ClaraModel, stage: 1 | 2, options: { resume: boolean; generator: Generator }): Array<[string, Parameter]> {
  let params: Parameter[];
  if (!options.resume || stage === 1) {
    // Stage 1 on a model that has both adapters creates nothing: resuming it is the same call.
    params = prepareCompressionStage(clara, stage, options.generator);
  } else {
    const model = clara.backbone;
    for (const name of [ENCODER_ADAPTER, DECODER_ADAPTER]) {
      if (!model.adapterNames().includes(name)) throw new Error(`resume stage 2: the checkpoint has no ${name}`);
    }
    model.model.embedTokens.weight.setTrainableRows(null).requiresGrad_(false);
    params = [ENCODER_ADAPTER, DECODER_ADAPTER].flatMap((name) => model.adapterParameters(name).map(([, p]) => p));
  }
  return nameParameters(clara, params);
}

/** Pairs each parameter with its name in the model (adapter parameters prefixed by the adapter). */
export function nameParameters(clara: ClaraModel, params: readonly Parameter[]): Array<[string, Parameter]> {
  const model = clara.backbone;
  const names = new Map<Parameter, string>();
  for (const [name, p] of model.namedParameters()) names.set(p, name);
  for (const adapter of model.adapterNames()) {
    for (const [key, p] of model.adapterParameters(adapter)) names.set(p, `${adapter}.${key}`);
  }
  return params.map((p) => {
    const name = names.get(p);
    if (name === undefined) throw new Error('nameParameters: a parameter to train is not part of the model');
    return [name, p];
  });
}
