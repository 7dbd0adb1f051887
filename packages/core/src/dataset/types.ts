import type { DatasetJson } from '../contracts/plans.js';

/** One case: its channel files in channel order (or a single 4D file, MSD), and its label file when known. */
export interface DatasetCase {
  /** Case identifier (NFC-normalised UTF-8, kept exactly otherwise; bad input B40). */
  id: string;
  /** Absolute paths, channel order. MSD 4D: one file holding every channel. */
  images: string[];
  /** Channel index parsed from each file name (`_0000` -> 0); absent for MSD names. */
  channelIndices?: number[];
  /** Absolute path of the label file, when present. */
  label?: string;
}

/** A problem found while loading or validating, tied to a case (or null for the dataset) and a file. */
export interface DatasetProblem {
  caseId: string | null;
  file: string;
  message: string;
}

/** A dataset in v2 form, whatever its layout on disk (see INTERFACES.md). */
export interface Dataset {
  /** Absolute dataset folder. */
  root: string;
  /** dataset.json in v2 form. */
  json: DatasetJson;
  /** Training cases (imagesTr/labelsTr), sorted by id. */
  cases: DatasetCase[];
  /** Test cases (imagesTs, with labelsTs when present), sorted by id. */
  testCases: DatasetCase[];
  layout: 'msd' | 'v2';
  /** Conversions and ignored files, for the log (not errors). */
  notes: string[];
  /** Naming problems found while listing files (reported by `validateDataset`). */
  problems: DatasetProblem[];
}
