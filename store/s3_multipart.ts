/**
 * One S3 multipart upload: create, upload numbered parts, complete or abort.
 *
 * @module
 */

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { DesInputError } from "../core/errors.ts";
import { s3Error, type S3ErrorContext } from "./s3_errors.ts";

/** S3 allows at most this many parts in one upload. */
export const MAX_PARTS = 10_000;

/** Where an upload goes. */
export interface UploadTarget {
  /** The client to send with. */
  client: S3Client;
  /** Bucket name. */
  bucket: string;
  /** Endpoint, for error messages. */
  endpoint: string;
}

/**
 * A started multipart upload. Each part takes the next number when its
 * upload starts, so several may be in flight at once; `complete` lists
 * them in number order.
 */
export class S3MultipartUpload {
  readonly #parts: { PartNumber: number; ETag: string }[] = [];
  #next = 1;
  #finished = false;

  private constructor(
    private readonly target: UploadTarget,
    private readonly key: string,
    private readonly uploadId: string,
  ) {}

  /** Start an upload of `key` (CreateMultipartUpload). */
  static async start(
    target: UploadTarget,
    key: string,
    contentType?: string,
  ): Promise<S3MultipartUpload> {
    try {
      const out = await target.client.send(
        new CreateMultipartUploadCommand({
          Bucket: target.bucket,
          Key: key,
          ContentType: contentType,
        }),
      );
      if (!out.UploadId) throw new Error("CreateMultipartUpload returned no UploadId");
      return new S3MultipartUpload(target, key, out.UploadId);
    } catch (error) {
      throw s3Error(error, where(target, key, "multipart-create"));
    }
  }

  /** Number of parts whose upload finished. */
  get partCount(): number {
    return this.#parts.length;
  }

  /**
   * Upload the next part (every part but the last must be at least 5 MiB);
   * its number is taken at the call, before the first `await`.
   */
  async uploadPart(bytes: Uint8Array): Promise<void> {
    const partNumber = this.#next++;
    if (partNumber > MAX_PARTS) {
      throw new DesInputError(`object ${this.key} needs more than ${MAX_PARTS} parts`, {
        key: this.key,
        hint: "raise partSize",
      });
    }
    try {
      const out = await this.target.client.send(
        new UploadPartCommand({
          Bucket: this.target.bucket,
          Key: this.key,
          UploadId: this.uploadId,
          PartNumber: partNumber,
          Body: bytes,
          ContentLength: bytes.byteLength,
        }),
      );
      this.#parts.push({ PartNumber: partNumber, ETag: out.ETag ?? "" });
    } catch (error) {
      throw s3Error(error, { ...where(this.target, this.key, "multipart-part"), partNumber });
    }
  }

  /**
   * Complete the upload. Its answer's ETag is not used: RGW 16 returns an
   * empty one; HEAD the object for the real ETag.
   */
  async complete(ifNoneMatch: boolean): Promise<void> {
    try {
      await this.target.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.target.bucket,
          Key: this.key,
          UploadId: this.uploadId,
          MultipartUpload: { Parts: this.#parts.toSorted((a, b) => a.PartNumber - b.PartNumber) },
          ...(ifNoneMatch ? { IfNoneMatch: "*" } : {}),
        }),
      );
      this.#finished = true;
    } catch (error) {
      throw s3Error(error, where(this.target, this.key, "multipart-complete"));
    }
  }

  /** Abort the upload so that its parts are freed. Does nothing once finished or aborted. */
  async abort(): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    try {
      await this.target.client.send(
        new AbortMultipartUploadCommand({
          Bucket: this.target.bucket,
          Key: this.key,
          UploadId: this.uploadId,
        }),
      );
    } catch (error) {
      const mapped = s3Error(error, where(this.target, this.key, "multipart-abort"));
      if (mapped.status !== 404) throw mapped;
    }
  }
}

function where(target: UploadTarget, key: string, op: string): S3ErrorContext {
  return { endpoint: target.endpoint, bucket: target.bucket, key, op };
}
