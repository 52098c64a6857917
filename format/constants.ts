/**
 * Byte-level constants of the DES v1 container format: magics, structure
 * sizes, field offsets, flags and limits. `docs/format.md` documents every
 * value here; the golden fixture test pins them.
 *
 * @module
 */

/** Major format version written and read by this code. */
export const FORMAT_MAJOR = 1;
/** Minor format version written by this code. */
export const FORMAT_MINOR = 0;
/** The format version as recorded in the container descriptor. */
export const FORMAT_VERSION = `${FORMAT_MAJOR}.${FORMAT_MINOR}`;
/** Writer identification recorded in the container descriptor. */
export const WRITER_ID = "des/0.1.0";

/** Header magic, `\x89DES\r\n\x1a\n` (PNG-style: detects text-mode mangling). */
export const HEADER_MAGIC: Uint8Array = Uint8Array.of(
  0x89,
  0x44,
  0x45,
  0x53,
  0x0d,
  0x0a,
  0x1a,
  0x0a,
);
/** Footer magic, the header magic reversed: `\n\x1a\r\nSED\x89`. */
export const FOOTER_MAGIC: Uint8Array = Uint8Array.of(
  0x0a,
  0x1a,
  0x0d,
  0x0a,
  0x53,
  0x45,
  0x44,
  0x89,
);

/** Size of the HEADER in bytes; DATA starts right after it. */
export const HEADER_SIZE = 64;
/** Field offsets inside the HEADER. */
export const HEADER_FIELDS = {
  /** 8 bytes, {@linkcode HEADER_MAGIC}. */
  magic: 0,
  /** u16 major version. */
  major: 8,
  /** u16 minor version. */
  minor: 10,
  /** u32 header size in bytes. */
  headerSize: 12,
  /** 16 bytes, random container id. */
  containerId: 16,
  /** u64 creation time, ms since the Unix epoch. */
  createdAt: 32,
  /** 20 reserved bytes, zero. */
  reserved: 40,
  /** u32 CRC-32C of header bytes 0..59. */
  crc32c: 60,
} as const;
/** Length of the container id in bytes. */
export const CONTAINER_ID_BYTES = 16;

/** Size of the FOOTER in bytes; it ends the container. */
export const FOOTER_SIZE = 64;
/** Field offsets inside the FOOTER. */
export const FOOTER_FIELDS = {
  /** u64 absolute offset of META. */
  metaOffset: 0,
  /** u64 length of META. */
  metaLength: 8,
  /** u64 absolute offset of INDEX. */
  indexOffset: 16,
  /** u64 length of INDEX. */
  indexLength: 24,
  /** u32 number of index entries. */
  entryCount: 32,
  /** u32 length of the container descriptor at the start of META. */
  descriptorLength: 36,
  /** u32 CRC-32C of META. */
  metaCrc32c: 40,
  /** u32 CRC-32C of INDEX. */
  indexCrc32c: 44,
  /** u16 major version. */
  major: 48,
  /** u16 minor version. */
  minor: 50,
  /** u32 CRC-32C of footer bytes 0..51. */
  crc32c: 52,
  /** 8 bytes, {@linkcode FOOTER_MAGIC}. */
  magic: 56,
} as const;

/** Size of one INDEX entry in bytes (8-byte aligned). */
export const ENTRY_SIZE = 72;
/** Field offsets inside an INDEX entry. */
export const ENTRY_FIELDS = {
  /** u32 offset of the name in the name heap. */
  nameOffset: 0,
  /** u16 length of the name in bytes. */
  nameLength: 4,
  /** u16 flags, see {@linkcode FLAG_EXTERNAL}. */
  flags: 6,
  /** u64 absolute offset of the content in DATA (0 for external files). */
  dataOffset: 8,
  /** u64 content size in bytes. */
  size: 16,
  /** u64 absolute offset of the file's meta record. */
  metaOffset: 24,
  /** u32 length of the file's meta record. */
  metaLength: 32,
  /** u32 CRC-32C of the content. */
  crc32c: 36,
  /** 32 bytes, SHA-256 of the content. */
  sha256: 40,
} as const;
/** Length of a SHA-256 digest in bytes. */
export const SHA256_BYTES = 32;

/** Entry flag: the content is a separate object, not in DATA. */
export const FLAG_EXTERNAL = 0x0001;

/** CRC-32C (Castagnoli) polynomial, reversed (LSB-first) form. */
export const CRC32C_POLYNOMIAL = 0x82f63b78;

/** Longest file name in UTF-8 bytes. */
export const MAX_NAME_BYTES = 1024;
/** Largest per-file meta record in bytes. */
export const MAX_META_RECORD_BYTES = 64 * 1024;
/** Largest container descriptor in bytes. */
export const MAX_DESCRIPTOR_BYTES = 256 * 1024;
/** Largest META + INDEX + FOOTER a reader loads (and a writer produces). */
export const MAX_TAIL_BYTES = 1024 * 1024 * 1024;

/** Default size of the single suffix read of a cold open. */
export const DEFAULT_SUFFIX_BYTES = 256 * 1024;
/** Default size above which a file is written as a separate object. */
export const DEFAULT_BIG_FILE_THRESHOLD = 16 * 1024 * 1024;
/** Folder (after the caller's prefix) that holds big-file objects. */
export const BIG_FILES_FOLDER = "_bigFiles";
