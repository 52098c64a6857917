/**
 * {@linkcode S3ObjectStore}: an {@linkcode ObjectStore} over one bucket of any
 * S3-compatible server (Ceph RGW in production and tests), with path-style
 * addressing, keep-alive connections, ranged and conditional reads, and
 * multipart uploads for large or streamed bodies.
 *
 * @module
 */

import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { DesConfigError, DesUnavailableError } from "../core/errors.ts";
import { validateKey } from "./keys.ts";
import type {
  GetOptions,
  GetResult,
  IncompleteUpload,
  ListedObject,
  ObjectInfo,
  ObjectStore,
  ObjectWriter,
  PutOptions,
  RequestHook,
} from "./object_store.ts";
import { readAll } from "./object_store.ts";
import { checkRange, rangeHeader } from "./range.ts";
import { createS3Client } from "./s3_client.ts";
import { bucketCreationError, s3Error, type S3ErrorContext } from "./s3_errors.ts";
import { abortIncompleteUpload, listIncompleteUploads } from "./s3_incomplete_uploads.ts";
import { S3ObjectWriter, type S3WriterHost } from "./s3_writer.ts";

const MiB = 1024 * 1024;
/** Smallest part S3 accepts (except for the last part). */
export const MIN_PART_SIZE = 5 * MiB;
/** Largest single PUT and largest part S3 accepts. */
export const MAX_PART_SIZE = 5 * 1024 * MiB;

/** Options of {@linkcode S3ObjectStore}. */
export interface S3ObjectStoreOptions {
  /** The bucket holding the objects. */
  bucket: string;
  /** Endpoint URL, e.g. `http://127.0.0.1:7480`; omitted = AWS. */
  endpoint?: string;
  /** Region, e.g. `us-east-1`. */
  region: string;
  /** Access key id. */
  accessKeyId: string;
  /** Secret access key. */
  secretAccessKey: string;
  /** Path-style addressing (default `true`; RGW and most S3-compatible servers want it). */
  forcePathStyle?: boolean;
  /** Called once for every HTTP request of an object operation (each part and retry included). */
  onRequest?: RequestHook;
  /** Multipart part size in bytes (default 8 MiB, at least 5 MiB). */
  partSize?: number;
  /** Bodies of known size up to this many bytes go in one PUT (default `partSize`). */
  multipartThreshold?: number;
  /** Keep-alive sockets per host (default 64). */
  maxSockets?: number;
  /** Attempts per request, retries included (default 3). */
  maxAttempts?: number;
}

/** Something that reads environment variables, like `Deno.env`. */
export interface EnvReader {
  /** The value of `name`, or `undefined`. */
  get(name: string): string | undefined;
}

/** Objects in one S3 bucket. */
export class S3ObjectStore implements ObjectStore, S3WriterHost {
  /** `s3://BUCKET`. */
  readonly url: string;
  /** The bucket. */
  readonly bucket: string;
  /** The endpoint URL, or `aws` when none was given. */
  readonly endpoint: string;
  /** Multipart part size in bytes. */
  readonly partSize: number;
  /** Largest body sent in a single PUT. */
  readonly multipartThreshold: number;
  /** The underlying client, for administration the store interface does not cover. */
  readonly client: S3Client;

  /** @param options bucket, endpoint, credentials, hook and upload sizes */
  constructor(options: S3ObjectStoreOptions) {
    this.bucket = options.bucket;
    this.url = `s3://${options.bucket}`;
    this.endpoint = options.endpoint ?? "aws";
    this.partSize = options.partSize ?? 8 * MiB;
    this.multipartThreshold = options.multipartThreshold ?? this.partSize;
    checkSizes(this.partSize, this.multipartThreshold);
    this.client = createS3Client({
      endpoint: options.endpoint,
      region: options.region,
      accessKeyId: options.accessKeyId,
      secretAccessKey: options.secretAccessKey,
      forcePathStyle: options.forcePathStyle ?? true,
      maxSockets: options.maxSockets ?? 64,
      maxAttempts: options.maxAttempts ?? 3,
    }, options.onRequest);
  }

  /**
   * A store for `bucket` configured from `DES_S3_ENDPOINT`, `DES_S3_REGION`
   * (default `us-east-1`), `DES_S3_ACCESS_KEY_ID` and `DES_S3_SECRET_ACCESS_KEY`.
   * Throws `DesConfigError` naming a missing variable.
   */
  static fromEnv(
    bucket: string,
    env: EnvReader = Deno.env,
    extra: Partial<S3ObjectStoreOptions> = {},
  ): S3ObjectStore {
    const required = (name: string) => {
      const value = env.get(name);
      if (!value) {
        throw new DesConfigError(`${name} is not set; it is needed to reach S3 bucket ${bucket}`, {
          variable: name,
        });
      }
      return value;
    };
    return new S3ObjectStore({
      bucket,
      endpoint: env.get("DES_S3_ENDPOINT") || undefined,
      region: env.get("DES_S3_REGION") || "us-east-1",
      accessKeyId: required("DES_S3_ACCESS_KEY_ID"),
      secretAccessKey: required("DES_S3_SECRET_ACCESS_KEY"),
      ...extra,
    });
  }

  /**
   * Create the bucket unless it exists already. A bucket the credentials may
   * not create (access denied, bucket quota) is a `DesConfigError` naming it.
   */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (error) {
      // HEAD has no body: a missing bucket is a bare 404, mapped to not-found.
      const mapped = s3Error(error, this.#where("head-bucket", ""));
      if (mapped.status !== 404) throw mapped;
    }
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === "BucketAlreadyOwnedByYou" || name === "BucketAlreadyExists") return;
      throw bucketCreationError(error, this.#where("create-bucket", ""));
    }
  }

  /** Metadata of an object (HEAD), or `null`. */
  async head(key: string): Promise<ObjectInfo | null> {
    validateKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        key,
        size: out.ContentLength ?? 0,
        etag: unquote(out.ETag),
        lastModified: out.LastModified ?? new Date(0),
      };
    } catch (error) {
      const mapped = s3Error(error, this.#where("head", key));
      if (mapped.status === 404) return null;
      throw mapped;
    }
  }

  /** An object or a range of it: one GET, the body streamed. */
  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    validateKey(key);
    const { range, ifMatch, signal } = options;
    if (range) checkRange(range, key);
    let out;
    try {
      out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Range: range ? rangeHeader(range) : undefined,
          IfMatch: ifMatch === undefined ? undefined : `"${ifMatch}"`,
        }),
        { abortSignal: signal },
      );
    } catch (error) {
      throw s3Error(error, { ...this.#where("get", key), range });
    }
    const body = out.Body
      ? out.Body.transformToWebStream() as ReadableStream<Uint8Array>
      : ReadableStream.from<Uint8Array>([]);
    const length = out.ContentLength ?? 0;
    const parsed = parseContentRange(out.ContentRange);
    if (range && !parsed) {
      await body.cancel();
      throw new DesUnavailableError(`S3 at ${this.endpoint} ignored the Range of a get of ${key}`, {
        ...this.#where("get", key),
        range,
      });
    }
    const info = {
      key,
      size: parsed?.size ?? length,
      etag: unquote(out.ETag),
      lastModified: out.LastModified ?? new Date(0),
    };
    return { info, start: parsed?.start ?? 0, length, body };
  }

  /**
   * Store a whole object: one PUT up to `multipartThreshold` bytes, a multipart
   * upload above it (streams of unknown size: above one part).
   */
  async put(
    key: string,
    body: Uint8Array | ReadableStream<Uint8Array>,
    options: PutOptions = {},
  ): Promise<ObjectInfo> {
    validateKey(key);
    if (body instanceof Uint8Array) {
      if (body.byteLength <= this.multipartThreshold) return this.putBytes(key, body, options);
      return this.#putParts(key, body, options);
    }
    const known = options.contentLength;
    if (known !== undefined && known <= this.multipartThreshold) {
      return this.putBytes(key, await readAll(body), options);
    }
    const writer = new S3ObjectWriter(this, key, options);
    try {
      for await (const chunk of body) await writer.write(chunk);
    } catch (error) {
      await writer.abort().catch(() => {});
      throw error;
    }
    return writer.close();
  }

  /** A streaming writer holding at most one part in memory. */
  createWriter(key: string, options: PutOptions = {}): Promise<ObjectWriter> {
    return Promise.try(() => new S3ObjectWriter(this, validateKey(key), options));
  }

  /** One PUT of `bytes`. `lastModified` is the local time of the answer. */
  async putBytes(key: string, bytes: Uint8Array, options: PutOptions): Promise<ObjectInfo> {
    try {
      const out = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: bytes,
          ContentLength: bytes.byteLength,
          ContentType: options.contentType,
          IfNoneMatch: options.ifNoneMatch ? "*" : undefined,
        }),
      );
      return { key, size: bytes.byteLength, etag: unquote(out.ETag), lastModified: new Date() };
    } catch (error) {
      throw s3Error(error, this.#where("put", key));
    }
  }

  /** Objects whose key starts with `prefix`, in key order (ListObjectsV2, page by page). */
  async *list(prefix: string): AsyncIterable<ListedObject> {
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            ContinuationToken: token,
          }),
        );
      } catch (error) {
        throw s3Error(error, this.#where("list", prefix));
      }
      for (const item of page.Contents ?? []) {
        if (!item.Key) continue;
        yield {
          key: item.Key,
          size: item.Size ?? 0,
          etag: unquote(item.ETag),
          lastModified: item.LastModified ?? new Date(0),
        };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** Delete an object; a missing key is not an error. */
  async delete(key: string): Promise<void> {
    validateKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      const mapped = s3Error(error, this.#where("delete", key));
      if (mapped.status !== 404) throw mapped;
    }
  }

  /** See {@linkcode ObjectStore.listIncompleteUploads}: multipart uploads under `prefix`. */
  listIncompleteUploads(prefix: string): AsyncIterable<IncompleteUpload> {
    return listIncompleteUploads(this, prefix);
  }

  /** See {@linkcode ObjectStore.abortIncompleteUpload}. */
  abortIncompleteUpload(upload: IncompleteUpload): Promise<void> {
    return abortIncompleteUpload(this, upload);
  }

  /** Close the keep-alive connections. The store must not be used afterwards. */
  close(): void {
    this.client.destroy();
  }

  async #putParts(key: string, bytes: Uint8Array, options: PutOptions): Promise<ObjectInfo> {
    const writer = new S3ObjectWriter(this, key, options);
    try {
      for (let at = 0; at < bytes.byteLength; at += this.partSize) {
        await writer.write(bytes.subarray(at, at + this.partSize));
      }
    } catch (error) {
      await writer.abort().catch(() => {});
      throw error;
    }
    return writer.close();
  }

  #where(op: string, key: string): S3ErrorContext {
    return { endpoint: this.endpoint, bucket: this.bucket, key, op };
  }
}

function checkSizes(partSize: number, threshold: number): void {
  if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_SIZE || partSize > MAX_PART_SIZE) {
    throw new DesConfigError(
      `S3 partSize must be an integer from ${MIN_PART_SIZE} to ${MAX_PART_SIZE}`,
      { partSize },
    );
  }
  if (!Number.isSafeInteger(threshold) || threshold < 1 || threshold > MAX_PART_SIZE) {
    throw new DesConfigError(
      `S3 multipartThreshold must be an integer from 1 to ${MAX_PART_SIZE}`,
      { multipartThreshold: threshold },
    );
  }
}

function unquote(etag: string | undefined): string {
  return (etag ?? "").replace(/^(W\/)?"(.*)"$/, "$2");
}

function parseContentRange(header: string | undefined): { start: number; size: number } | null {
  const match = header?.match(/^bytes (\d+)-(\d+)\/(\d+)$/);
  return match ? { start: Number(match[1]), size: Number(match[3]) } : null;
}
