import type { PostprocessingPlan, PostprocessingStep } from '../postprocessing/determine.js';
import { NnunetError } from '../util/errors.js';
import { PyTuple, toPlain, unpickle, type PyValue } from './pickle.js';
import { checkpointGlobals, type PyReference } from './torch-checkpoint.js';

/** nnU-Net v2's postprocessing functions a `postprocessing.pkl` may name, by module path: our postprocessor names. */
const NNUNET_PP_FUNCTIONS: Record<string, string> = {
  'nnunetv2.postprocessing.remove_connected_components.remove_all_but_largest_component_from_segmentation': 'remove_all_but_largest_component_from_segmentation',
};

/**
 * Read nnU-Net v2's `postprocessing.pkl` (`determine_postprocessing` writes `(pp_fns, pp_fn_kwargs)`: a list of
 * function references and a list of keyword dicts) with the restricted unpickler. Functions are matched by name,
 * never imported. Returns a plan whose Dice fields are unknown (NaN / empty): the pickle does not hold them.
 * @throws NnunetError naming `file` for another structure or a function we do not implement
 */
export function readNnunetPostprocessingPkl(bytes: Uint8Array, file: string): PostprocessingPlan {
  const v = unpickle(bytes, { file, globals: checkpointGlobals(Object.keys(NNUNET_PP_FUNCTIONS)) });
  const pair = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : [];
  const [fns, kwargs] = pair as [PyValue, PyValue];
  if (pair.length !== 2 || !Array.isArray(fns) || !Array.isArray(kwargs) || fns.length !== kwargs.length) {
    throw new NnunetError('postprocessing.pkl is not (pp_fns, pp_fn_kwargs) as nnU-Net v2 writes it', { file, hint: 'delete it to predict without postprocessing' });
  }
  const steps: PostprocessingStep[] = fns.map((f, i) => {
    const ref = f as PyReference;
    const name = ref && typeof ref === 'object' && ref.pyKind === 'reference' ? NNUNET_PP_FUNCTIONS[ref.name] : undefined;
    if (!name) throw new NnunetError(`postprocessing.pkl step ${i} is not a known nnU-Net postprocessing function`, { file });
    return { name, kwargs: toPlain(kwargs[i]!) as Record<string, unknown> };
  });
  return { postprocessing_fns: steps, dice_before: {}, dice_after: {}, foreground_dice_before: NaN, foreground_dice_after: NaN };
}
