import {
  NnunetError,
  getConfiguration,
  loadParameters,
  type ComputeBackend,
  type DeviceBackend,
  type Network,
  type PredictorModel,
  type Registry,
} from '@nnunet-ts/core';
import { WEB_MODEL_FORMAT, type WebModelManifest } from '../model-format.js';
import { createWebRegistry } from './registry.js';

/**
 * A model loaded in the page: the manifest, one network per fold, the registry the case runs through, and for a
 * cascade stage its previous stage (loaded the same way from `manifest.previousStage.dir`).
 */
export interface WebModel extends PredictorModel {
  manifest: WebModelManifest;
  registry: Registry;
  previous?: WebModel;
}

/** Fetches one file of the exported model folder (`manifest.json`, `fold_<k>.params`) as bytes. */
export type ModelFetch = (file: string) => Promise<Uint8Array>;

/**
 * Reads `manifest.json` and checks its format.
 * @throws NnunetError when the file is not a web model manifest of a known version.
 */
export async function readManifest(fetchFile: ModelFetch): Promise<WebModelManifest> {
  const m = JSON.parse(new TextDecoder().decode(await fetchFile('manifest.json'))) as WebModelManifest;
  if (m.format !== WEB_MODEL_FORMAT || m.version !== 1) {
    throw new NnunetError(`model/manifest.json is not an nnunet-ts web model (format ${JSON.stringify(m.format)}, version ${m.version})`, {
      hint: 'export the site again with `nnunet-ts export-web`',
    });
  }
  return m;
}

/**
 * Rebuilds the exported model in the page: for each fold the network named by the plans (`network_class_name`,
 * from the registry, deep supervision off) on `backend`, with the fold's weights (core's parameter file, checked
 * name by name and shape by shape by `loadParameters`). Same construction as `loadTrainedModel` in Node. A cascade
 * stage also loads its previous stage (as `loadModel` in Node).
 * @throws NnunetError when a weights file does not fit the network.
 */
export async function loadWebModel(manifest: WebModelManifest, fetchFile: ModelFetch, backend: ComputeBackend | DeviceBackend): Promise<WebModel> {
  const registry = createWebRegistry();
  const architecture = getConfiguration(manifest.plans, manifest.configuration).architecture;
  if (!architecture) throw new NnunetError(`configuration '${manifest.configuration}' of the exported plans has no architecture`);
  const networks: Network[] = [];
  for (const w of manifest.weights) {
    const network = registry.get('network', architecture.network_class_name, manifest.dims).create({
      architecture,
      inputChannels: manifest.inputChannels,
      numClasses: manifest.numClasses,
      deepSupervision: false,
      backend,
    });
    loadParameters(network.parameters, await fetchFile(w.file));
    network.pushParameters();
    network.setDeepSupervision(false);
    networks.push(network);
  }
  let previous: WebModel | undefined;
  if (manifest.previousStage) {
    const dir = manifest.previousStage.dir;
    const fetchPrevious: ModelFetch = (f) => fetchFile(`${dir}${f}`);
    previous = await loadWebModel(await readManifest(fetchPrevious), fetchPrevious, backend);
  }
  return { manifest, registry, networks, patchSize: manifest.patchSize, numClasses: manifest.numClasses, mirrorAxes: manifest.mirrorAxes, previous };
}
