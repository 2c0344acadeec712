/**
 * The img library: one function per `virtkit img` verb, with typed options and results, so the
 * manager and other programs use them directly instead of shelling out. Everything here is
 * platform-neutral; a host supplies files through an ImgContext (src/host/node/img-host.ts).
 */
export type { ImgContext, ImgHost } from './context.ts';
export { openChain, type ImageLayer, type OpenedImage, type OpenChainOptions } from './open-chain.ts';
export { imgInfo, infoToJson, type ImageInfo, type ImageSnapshot, type InfoOptions } from './info.ts';
export { imgCreate, type CreateImageOptions, type CreateImageResult } from './create.ts';
export { imgConvert, type ConvertOptions, type ConvertResult } from './convert.ts';
export { imgCheck, checkExitCode, checkToJson, checkText, type CheckOptions, type CheckReport } from './check.ts';
export { imgResize, type ResizeOptions, type SizeSpec } from './resize.ts';
export { imgSnapshot, type SnapshotAction, type SnapshotOptions } from './snapshot.ts';
export { imgCompare, compareBackends, type CompareOptions, type CompareResult } from './compare.ts';
export { imgCommit, type CommitOptions } from './commit.ts';
export { imgRebase, type RebaseOptions } from './rebase.ts';
export { imgMap, mapEntryJson, mapText, type MapEntry, type MapOptions } from './map.ts';
export { imgMeasure, qcow2PreallocSize, type MeasureOptions, type MeasureResult } from './measure.ts';
export { infoText, snapshotTable } from './text.ts';
export { sizeToStr, parseImgSize } from './units.ts';
