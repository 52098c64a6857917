/**
 * Listing and aborting S3 multipart uploads that were started and neither
 * completed nor aborted (a writer killed mid-upload), for
 * {@linkcode S3ObjectStore}.
 *
 * @module
 */

import {
  AbortMultipartUploadCommand,
  ListMultipartUploadsCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import type { IncompleteUpload } from "./object_store.ts";
import { s3Error, type S3ErrorContext } from "./s3_errors.ts";

/** What the functions need of the store. */
export interface UploadsHost {
  /** The SDK client. */
  readonly client: S3Client;
  /** The bucket. */
  readonly bucket: string;
  /** The endpoint, for messages. */
  readonly endpoint: string;
}

function where(host: UploadsHost, op: string, key: string): S3ErrorContext {
  return { endpoint: host.endpoint, bucket: host.bucket, key, op };
}

/** Uploads whose key starts with `prefix`, page by page. */
export async function* listIncompleteUploads(
  host: UploadsHost,
  prefix: string,
): AsyncIterable<IncompleteUpload> {
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  do {
    let page;
    try {
      page = await host.client.send(
        new ListMultipartUploadsCommand({
          Bucket: host.bucket,
          Prefix: prefix,
          KeyMarker: keyMarker,
          UploadIdMarker: uploadIdMarker,
        }),
      );
    } catch (error) {
      throw s3Error(error, where(host, "list-uploads", prefix));
    }
    for (const u of page.Uploads ?? []) {
      if (!u.Key || !u.UploadId) continue;
      yield { key: u.Key, uploadId: u.UploadId, initiated: u.Initiated ?? new Date(0) };
    }
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
  } while (keyMarker);
}

/** Abort one upload; one already gone (completed or aborted) is not an error. */
export async function abortIncompleteUpload(
  host: UploadsHost,
  upload: IncompleteUpload,
): Promise<void> {
  try {
    await host.client.send(
      new AbortMultipartUploadCommand({
        Bucket: host.bucket,
        Key: upload.key,
        UploadId: upload.uploadId,
      }),
    );
  } catch (error) {
    const mapped = s3Error(error, where(host, "abort-upload", upload.key));
    if (mapped.status !== 404) throw mapped;
  }
}
