/**
 * Content types from file extensions, for files whose source records none.
 *
 * @module
 */

const TYPES: Record<string, string> = {
  txt: "text/plain; charset=utf-8",
  md: "text/markdown; charset=utf-8",
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  csv: "text/csv; charset=utf-8",
  xml: "application/xml",
  json: "application/json",
  js: "text/javascript; charset=utf-8",
  pdf: "application/pdf",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  svg: "image/svg+xml",
  tif: "image/tiff",
  tiff: "image/tiff",
  gz: "application/gzip",
  zip: "application/zip",
  zst: "application/zstd",
  tar: "application/x-tar",
  mp3: "audio/mpeg",
  mp4: "video/mp4",
  wav: "audio/wav",
  doc: "application/msword",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xls: "application/vnd.ms-excel",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
};

/** The fallback type for unknown content. */
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

/**
 * Guess a content type from a file name's extension.
 *
 * @example
 * ```ts
 * contentTypeFor("scan-001.PDF"); // "application/pdf"
 * ```
 */
export function contentTypeFor(name: string): string {
  const dot = name.lastIndexOf(".");
  if (dot < 0 || dot < name.lastIndexOf("/")) return DEFAULT_CONTENT_TYPE;
  return TYPES[name.slice(dot + 1).toLowerCase()] ?? DEFAULT_CONTENT_TYPE;
}
