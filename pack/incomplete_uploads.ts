/**
 * An optional store capability recovery uses: list and abort multipart
 * uploads that were started but never completed (a packer killed while
 * streaming a container). Only S3 stores have it; on other stores
 * {@linkcode incompleteUploadsOf} returns `undefined`.
 *
 * @module
 */

import { AbortMultipartUploadCommand, ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import type { ObjectStore } from "../store/object_store.ts";
import { S3ObjectStore } from "../store/s3.ts";
import { s3Error } from "../store/s3_errors.ts";

/** One upload that was started and neither completed nor aborted. */
export interface IncompleteUpload {
  /** Object key. */
  key: string;
  /** Upload id. */
  uploadId: string;
  /** When it was started. */
  initiated: Date;
}

/** Listing and aborting incomplete multipart uploads. */
export interface IncompleteUploads {
  /** Uploads whose key starts with `prefix`. */
  list(prefix: string): AsyncIterable<IncompleteUpload>;
  /** Abort one upload (already gone is not an error). */
  abort(upload: IncompleteUpload): Promise<void>;
}

/** The capability of `store`, or `undefined` when the store has no multipart uploads. */
export function incompleteUploadsOf(store: ObjectStore): IncompleteUploads | undefined {
  if (!(store instanceof S3ObjectStore)) return undefined;
  const where = (op: string, key: string) => ({
    endpoint: store.endpoint,
    bucket: store.bucket,
    key,
    op,
  });
  return {
    async *list(prefix: string): AsyncIterable<IncompleteUpload> {
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      do {
        let page;
        try {
          page = await store.client.send(
            new ListMultipartUploadsCommand({
              Bucket: store.bucket,
              Prefix: prefix,
              KeyMarker: keyMarker,
              UploadIdMarker: uploadIdMarker,
            }),
          );
        } catch (error) {
          throw s3Error(error, where("list-uploads", prefix));
        }
        for (const u of page.Uploads ?? []) {
          if (!u.Key || !u.UploadId) continue;
          yield { key: u.Key, uploadId: u.UploadId, initiated: u.Initiated ?? new Date(0) };
        }
        keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
        uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
      } while (keyMarker);
    },
    async abort(upload: IncompleteUpload): Promise<void> {
      try {
        await store.client.send(
          new AbortMultipartUploadCommand({
            Bucket: store.bucket,
            Key: upload.key,
            UploadId: upload.uploadId,
          }),
        );
      } catch (error) {
        const mapped = s3Error(error, where("abort-upload", upload.key));
        if (mapped.status !== 404) throw mapped;
      }
    },
  };
}
