import { Niivue, NVImage } from '@niivue/niivue';

/** Overlay colours per label value (label 1 first), distinct and readable over grey scale. */
export const LABEL_COLOURS: [number, number, number][] = [
  [230, 25, 75], [60, 180, 75], [0, 130, 200], [255, 225, 25], [245, 130, 48], [145, 30, 180], [70, 240, 240], [240, 50, 230],
];

/** The image and segmentation viewer (niivue: WebGL2, multiplanar, NIfTI-aware geometry). */
export class Viewer {
  private readonly nv = new Niivue({ backColor: [0, 0, 0, 1], show3Dcrosshair: false, isResizeCanvas: true, crosshairWidth: 0 });
  private ready: Promise<unknown>;

  constructor(canvas: HTMLCanvasElement) {
    this.ready = this.nv.attachToCanvas(canvas).then(() => this.nv.setSliceType(this.nv.sliceTypeMultiplanar));
  }

  /**
   * Shows `bytes` (an image file named `name`: NIfTI, NRRD or MetaImage, read by niivue by its ending) alone;
   * `pairedData` is the data file of a detached header (`.mhd` + `.raw`, `.nhdr` + data).
   */
  async showImage(bytes: ArrayBuffer, name: string, pairedData?: ArrayBuffer): Promise<void> {
    await this.ready;
    for (const v of [...this.nv.volumes]) this.nv.removeVolume(v);
    const url = URL.createObjectURL(new Blob([bytes]));
    const urlImgData = pairedData ? URL.createObjectURL(new Blob([pairedData])) : undefined;
    try {
      this.nv.addVolume(await NVImage.loadFromUrl({ url, name, colormap: 'gray', ...(urlImgData ? { urlImgData } : {}) }));
    } finally {
      URL.revokeObjectURL(url);
      if (urlImgData) URL.revokeObjectURL(urlImgData);
    }
  }

  /** Puts the segmentation (a NIfTI label map) over the image, one colour per label, 60% opaque. */
  async showSegmentation(bytes: ArrayBuffer, name: string, labels: number): Promise<void> {
    await this.ready;
    for (const v of this.nv.volumes.slice(1)) this.nv.removeVolume(v);
    const url = URL.createObjectURL(new Blob([bytes]));
    try {
      const seg = await NVImage.loadFromUrl({ url, name, opacity: 0.6 });
      const n = Math.max(1, labels);
      const I = Array.from({ length: n + 1 }, (_, i) => i);
      const col = (k: number) => I.map((i) => (i === 0 ? 0 : LABEL_COLOURS[(i - 1) % LABEL_COLOURS.length]![k]!));
      seg.setColormapLabel({ R: col(0), G: col(1), B: col(2), A: I.map((i) => (i === 0 ? 0 : 255)), I });
      this.nv.addVolume(seg);
      this.nv.updateGLVolume();
    } finally {
      URL.revokeObjectURL(url);
    }
  }
}
