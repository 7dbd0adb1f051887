/** Browser stand-in for `dawn-node.ts` (selected by the `#dawn` import condition): no Dawn outside Node. */
export const SWIFTSHADER_ICD_PATHS: string[] = [];

/** Always `undefined` outside Node. */
export function findSwiftShaderIcd(): string | undefined {
  return undefined;
}

/** Always `null` outside Node: browsers provide `navigator.gpu` instead. */
export async function dawnAdapter(): Promise<GPUAdapter | null> {
  return null;
}
