#!/usr/bin/env node
// Measure the intensity rule of `predictInputFindings` (packages/core/src/pipeline/predict-inputs.ts) on real data:
// every image of shared/data (training and test images of every dataset) against the foreground fingerprint of the
// model or dataset it belongs to, and constructed faults (a [0, 1] normalised export, a 1000x rescale, a CT without
// the rescale intercept, a CT given to an MRI model) that the rule must still catch.
// Hippocampus: the shared nnU-Net model's plans.json (16x30 3d_fullres, fingerprint of the 40-case subset); the other
// datasets: a fingerprint computed with our own `extractFingerprint` from their training cases (CT channels
// CTNormalization, others ZScoreNormalization, as nnU-Net's planner chooses from the channel name).
// Usage (after `npm run build`): node scripts/intensity-findings-measure.mjs [shared folder] [--list]
// Prints per dataset the number of images and how many trigger each branch (low, high, CT no-negative, negative), then the
// constructed faults with their messages. --list also prints each triggering image with its message.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as core from '@nnunet-ts/core';
import * as ioNifti from '@nnunet-ts/io-nifti';
import * as ioItk from '@nnunet-ts/io-itk';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const list = args.includes('--list');
const shared = args.find((a) => !a.startsWith('--')) ?? process.env.NNUNET_SHARED ?? resolve(root, '..', 'shared');
const data = join(shared, 'data');

const registry = new core.Registry();
core.registerCoreDefaults?.(registry);
ioNifti.registerDefaults(registry, { override: true });
ioItk.registerDefaults(registry, { override: true });

const spacing1 = [1, 1, 1];
/** All channel files of a case stacked (a folder is read as a DICOM series). */
const read = async (files) => (files.length === 1 && statSync(files[0]).isDirectory()
  ? ioItk.readDicomSeries(files[0])
  : (await core.readCase(registry, { id: 'x', images: files })).image);

/** A model folder around a fingerprint (only the fields `predictInputFindings` reads). */
function folderOf(fp, channelNames, schemes, spacing) {
  return {
    dir: '(fingerprint)', configuration: '3d_fullres', folds: [],
    dataset: { channel_names: channelNames, labels: { background: 0 }, file_ending: '.nii.gz' },
    plans: {
      foreground_intensity_properties_per_channel: fp,
      transpose_forward: [0, 1, 2],
      configurations: { '3d_fullres': { normalization_schemes: schemes, spacing, patch_size: [64, 64, 64] } },
    },
  };
}

/** The branch of each intensity message: low, high, ct (a CT channel without negative values), neg (negative voxels). */
function branches(f) {
  const out = [];
  for (const m of [...f.warnings, ...f.notes]) {
    if (/\) has no negative value/.test(m)) out.push(['ct', m]);
    else if (/voxels are negative/.test(m)) out.push(['neg', m]);
    else if (/spacing .* differs/.test(m) || /constant image|NaN or infinite|2D image/.test(m)) continue;
    else if (/below|normalised|darker/.test(m)) out.push(['low', m]);
    else if (/above|rescaled|brighter/.test(m)) out.push(['high', m]);
    else out.push(['other', m]);
  }
  return out;
}

/** Cases of an MSD-style dataset folder: `{id, images, label}` for imagesTr (with labels) and imagesTs. */
function casesOf(dir) {
  const ds = JSON.parse(readFileSync(join(dir, 'dataset.json'), 'utf8'));
  const fix = (p) => join(dir, p.replace(/^\.\//, ''));
  const tr = ds.training.map((t) => ({ id: t.label.split('/').pop(), images: (Array.isArray(t.image) ? t.image : [t.image]).map(fix), label: fix(t.label) }));
  const ts = (ds.test ?? []).map((t) => ({ id: String(t).split('/').pop(), images: (Array.isArray(t) ? t : [t]).map(fix) }));
  const names = ds.channel_names ?? ds.modality;
  return { tr, ts, names };
}

async function fingerprintOf(tr) {
  const loaded = [];
  for (const c of tr) loaded.push({ id: c.id, image: await read(c.images), seg: await read([c.label]) });
  return (await core.extractFingerprint(loaded)).foreground_intensity_properties_per_channel;
}

const rows = [];
async function measure(name, folder, cases) {
  const count = { images: 0, low: 0, high: 0, ct: 0, neg: 0, other: 0 };
  for (const c of cases) {
    let im;
    try { im = await read(c.images); } catch (e) { console.log(`  ${name}: ${c.images[0]}: not read (${e.message.split('\n')[0]})`); continue; }
    count.images += c.images.length;
    const f = core.predictInputFindings({ id: c.id, images: c.images }, im, folder);
    for (const [b, m] of branches(f)) {
      count[b]++;
      if (list) console.log(`  ${name} [${b}] ${m}`);
    }
  }
  rows.push([name, count]);
}

// 1. Hippocampus: the shared model (its fingerprint: 40 training cases of the embedded subset)
const hipModel = core.readModelFolder(join(shared, 'models', 'Dataset004_Hippocampus', 'nnUNetTrainer_16x30__nnUNetPlans__3d_fullres'));
const hip = casesOf(join(data, 'Task04_Hippocampus'));
await measure('Task04_Hippocampus imagesTr (model A)', hipModel, hip.tr);
await measure('Task04_Hippocampus imagesTs (model A)', hipModel, hip.ts);
const example = join(root, 'examples', 'Task04_Hippocampus_subset');
for (const sub of ['imagesTr', 'imagesTs']) {
  await measure(`examples subset ${sub} (model A)`, hipModel, readdirSync(join(example, sub)).map((n) => ({ id: n, images: [join(example, sub, n)] })));
}
// hippocampus crops as DICOM series (unlabelled; same anatomy and crop as Task04)
const crops = join(data, 'oddities', 'udacity_hippocrop_dicom');
const cropDirs = existsSync(crops) ? readdirSync(crops).flatMap((s) => readdirSync(join(crops, s)).filter((d) => d.includes('HCrop')).map((d) => join(crops, s, d))) : [];
await measure('udacity hippocampus DICOM crops (model A)', hipModel, cropDirs.map((d) => ({ id: d, images: [d] })));

// 1b. Hippocampus models trained on other training sets (fingerprints of our own extractFingerprint, 1e6 foreground
// samples instead of nnU-Net's 1e8 for speed): all 220 training cases, the cases with values above 255 only (the 48
// uint8 cases of MSD Task04 left out), and seeded random subsets of 10, 20 and 40 cases; each applied to the images it was not
// computed from. The dataset's images span three intensity scales (uint8 ~100, float ~1000, float ~400,000), so a
// training set without one of them sees the others' normal images as out of range.
{
  const loaded = [];
  for (const c of hip.tr) loaded.push({ c, image: await read(c.images), seg: await read([c.label]) });
  const all = [...loaded, ...hip.ts.map((c) => ({ c, image: null }))];
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const sets = [['all 220', loaded], ['float32 (max > 255) only', loaded.filter((l) => l.image.data.some((v) => v > 255))]];
  for (const size of [10, 20, 40]) {
    for (let k = 0; k < 10; k++) {
      const pool = [...loaded];
      const pick = [];
      while (pick.length < size) pick.push(pool.splice(Math.floor(rand() * pool.length), 1)[0]);
      sets.push([`random ${size} #${k + 1}`, pick]);
    }
  }
  const sums = new Map();
  for (const [name, set] of sets) {
    const fp = (await core.extractFingerprint(set.map((l) => ({ id: l.c.id, image: l.image, seg: l.seg })), { totalForegroundSamples: 1e6 })).foreground_intensity_properties_per_channel;
    const folder = folderOf(fp, { 0: 'MRI' }, ['ZScoreNormalization'], spacing1);
    const inSet = new Set(set.map((l) => l.c.id));
    const count = { images: 0, low: 0, high: 0, ct: 0, neg: 0, other: 0 };
    for (const l of all) {
      if (inSet.has(l.c.id)) continue;
      const im = l.image ?? await read(l.c.images);
      count.images++;
      for (const [b, m] of branches(core.predictInputFindings({ id: l.c.id, images: l.c.images }, im, folder))) {
        count[b]++;
        if (list && !name.startsWith('random')) console.log(`  ${name} [${b}] ${m}`);
      }
    }
    const group = name.replace(/ #\d+$/, '');
    const g = sums.get(group) ?? { fingerprints: 0, firing: 0, images: 0, low: 0, high: 0, ct: 0, neg: 0, other: 0 };
    g.fingerprints++;
    if (count.low + count.high + count.ct + count.neg + count.other) g.firing++;
    for (const k of ['images', 'low', 'high', 'ct', 'neg', 'other']) g[k] += count[k];
    sums.set(group, g);
    console.log(`  Hippocampus fingerprint of ${name} (p0.5 ${fp[0].percentile_00_5.toPrecision(4)}, p99.5 ${fp[0].percentile_99_5.toPrecision(4)}, max ${fp[0].max.toPrecision(4)}): ${count.images} held-out images, low ${count.low}, high ${count.high}, negative ${count.neg}, other ${count.other}`);
  }
  for (const [group, g] of sums) rows.push([`Task04_Hippocampus held-out vs fingerprint of ${group} (${g.fingerprints} fingerprint(s), ${g.firing} with findings)`, g]);
}

// 2. the other datasets: a fingerprint of their own training cases

let ctFolder = null;
for (const [dirName, ct] of [['BraTS2015_DeepMedic_subset', false], ['Task09_Spleen_subset', true], ['TotalSegmentator_CT_example', true], ['TotalSegmentator_MR_example', false]]) {
  const d = casesOf(join(data, dirName));
  const fp = await fingerprintOf(d.tr);
  const chans = Object.keys(fp);
  const folder = folderOf(fp, d.names, chans.map(() => (ct ? 'CTNormalization' : 'ZScoreNormalization')), spacing1);
  if (dirName === 'Task09_Spleen_subset') ctFolder = folder;
  await measure(`${dirName} (own fingerprint)`, folder, [...d.tr, ...d.ts]);
}
// labelled oddities: each pair against its own fingerprint
const odd = [
  ['oddities/pyradiomics_nrrd/brain1_image.nrrd', 'oddities/pyradiomics_nrrd/brain1_label.nrrd'],
  ['oddities/pyradiomics_nrrd/brain2_image.nrrd', 'oddities/pyradiomics_nrrd/brain2_label.nrrd'],
  ['oddities/pyradiomics_nrrd/breast1_image.nrrd', 'oddities/pyradiomics_nrrd/breast1_label.nrrd'],
  ['oddities/pyradiomics_nrrd/prostate_phantom_subvolume.nrrd', 'oddities/pyradiomics_nrrd/prostate_phantom_subvolume-label.nrrd'],
  ['oddities/monai_testing_data/anatomical.nii', 'oddities/monai_testing_data/anatomical_label.nii.gz'],
  ['oddities/monai_testing_data/reoriented_anat_moved.nii', 'oddities/monai_testing_data/reoriented_anat_moved_label.nii.gz'],
];
for (const [img, lab] of odd) {
  try {
    const fp = await fingerprintOf([{ id: img, images: [join(data, img)], label: join(data, lab) }]);
    await measure(`${img} (own fingerprint)`, folderOf(fp, { 0: 'MRI' }, ['ZScoreNormalization'], spacing1), [{ id: img, images: [join(data, img)] }]);
  } catch (e) {
    console.log(`  ${img}: not measured (${e.message.split('\n')[0]})`);
  }
}
// unlabelled CT oddities (in HU) against the Spleen CT fingerprint
const ctOdd = [join(data, 'oddities/totalsegmentator/example_ct_int32.nii.gz'), join(data, 'oddities/totalsegmentator/example_ct_dicom'), join(data, 'oddities/monai_testing_data/CT_DICOM')];
await measure('CT oddities (Spleen fingerprint)', ctFolder, ctOdd.map((f) => ({ id: f, images: [f] })));

console.log('\nIn-distribution images (should trigger nothing):');
console.log('dataset | images | low | high | CT no-negative | negative');
for (const [n, c] of rows) console.log(`${n} | ${c.images} | ${c.low} | ${c.high} | ${c.ct} | ${c.neg ?? '-'}${c.other ? ` | other ${c.other}` : ''}`);

// 3. constructed faults (should trigger)
console.log('\nConstructed faults (should trigger):');
const hcase = join(data, 'Task04_Hippocampus', 'imagesTs', 'hippocampus_118.nii.gz');
const h = await read([hcase]);
const hf = Float32Array.from(h.data);
const hmax = hf.reduce((a, b) => Math.max(a, b), -Infinity);
const floatCase = join(data, 'Task04_Hippocampus', 'imagesTr', 'hippocampus_003.nii.gz');
const hF = await read([floatCase]);
const hFf = Float32Array.from(hF.data);
const hFmax = hFf.reduce((a, b) => Math.max(a, b), -Infinity);
const c008 = join(data, 'Task04_Hippocampus', 'imagesTr', 'hippocampus_008.nii.gz');
const h8 = await read([c008]);
const spleen = join(data, 'Task09_Spleen_subset', 'imagesTr', 'spleen_2.nii.gz');
const sp = await read([spleen]);
const spf = Float32Array.from(sp.data);
const tsct = join(data, 'TotalSegmentator_CT_example', 'imagesTr', 'example_ct_sm.nii.gz');
const tct = await read([tsct]);
const brats = join(data, 'BraTS2015_DeepMedic_subset', 'imagesTr', 'brats_2013_pat0001_1_0000.nii.gz');
const br = await read([brats]);
const faults = [
  ['hippocampus_118 (uint8) normalised to [0, 1]', hipModel, hcase, { ...h, data: hf.map((v) => v / hmax) }],
  ['hippocampus_003 (float) normalised to [0, 1]', hipModel, floatCase, { ...hF, data: hFf.map((v) => v / hFmax) }],
  ['hippocampus_118 (uint8) x1000', hipModel, hcase, { ...h, data: hf.map((v) => v * 1000) }],
  ['hippocampus_003 (float) x1000', hipModel, floatCase, { ...hF, data: hFf.map((v) => v * 1000) }],
  ['hippocampus_008 (float) x1000', hipModel, c008, { ...h8, data: Float32Array.from(h8.data).map((v) => v * 1000) }],
  ['hippocampus_003 (float) / 1000', hipModel, floatCase, { ...hF, data: hFf.map((v) => v / 1000) }],
  ['spleen_2 without the intercept (HU + 1024, 0..4095)', ctFolder, spleen, { ...sp, data: spf.map((v) => Math.min(4095, Math.max(0, v + 1024))) }],
  ['spleen_2 normalised to [0, 1]', ctFolder, spleen, { ...sp, data: spf.map((v) => (v + 1024) / 4095) }],
  ['spleen_2 (CT) given to the Hippocampus MRI model', hipModel, spleen, sp],
  ['TotalSegmentator CT given to the Hippocampus MRI model', hipModel, tsct, tct],
  ['BraTS FLAIR (z-scored) given to the Hippocampus MRI model', hipModel, brats, br],
];
for (const [what, folder, file, im] of faults) {
  const f = core.predictInputFindings({ id: 'x', images: [file] }, im, folder);
  const b = branches(f);
  console.log(`${b.length ? 'CAUGHT' : 'MISSED'} ${what}${b.map(([k, m]) => `\n   [${k}] ${m}`).join('')}`);
}
